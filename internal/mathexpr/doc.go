// Package mathexpr evaluates CloudWatch metric math expressions, the subset
// that scaling policies and alarms use: numbers, query ids, the arithmetic
// operators + - * / ^, comparisons (< <= > >= == !=) and AND, OR, NOT, and
// the functions SUM, AVG, MIN, MAX (over an array of series, or over time
// for one series), FILL (with a value, REPEAT or LINEAR), IF, ABS, CEIL,
// FLOOR and METRICS().
//
// A Series is a value per timestamp of a shared grid, NaN where a datapoint
// is missing; arithmetic on a missing datapoint gives a missing datapoint,
// as in CloudWatch. Evaluation is pure: it takes the series of the queries
// an expression refers to and returns a series or a scalar.
package mathexpr
