// Package forecast predicts a load series hour by hour, for predictive
// scaling: at least a day of hourly history, at most the last 14 days, the
// next 48 hours, made again every 6 hours (Application Auto Scaling's
// rules).
//
// The method is a multiplicative decomposition, the form of Holt-Winters'
// seasonal models with fixed weights: the load at an hour is a daily
// profile (the hour of the day) times a weekday factor (the day of the
// week) times a level.
//
//   - The weekday factor is a day's mean load over the mean of all days,
//     the last week weighted twice the one before, from a week of history
//     on (less cannot tell a weekday from a change of level) and without
//     the last day (the level's); 1 for a weekday not seen.
//   - The daily profile is the mean of each hour of the day once the
//     weekday factors are divided out, each older day weighted 0.7 times
//     the next, so that the shape follows recent days.
//   - The level corrects for a change the profile's average has not
//     caught up with yet: the geometric mean of two estimates, the last
//     day's load against what the days before it predict, and (weighted
//     0.7) the last three hours' against what the days before them
//     predict, each bounded to half or twice. The last hours see a
//     Monday after a weekend, or a holiday, by mid-morning; the forecast
//     is made every 6 hours, so the hours it schedules are at most 6
//     hours (and the scheduling buffer) past them.
//
// Why not fit more: with at most 14 days there are two samples of each
// hour of the week, too few to fit smoothing parameters or an ARIMA model
// per series without fitting noise; the fixed weights are explainable (the
// console draws the forecast against the load) and deterministic, which
// the simulator's replays need. No maintained Go library of this field
// forecasts seasonal series (the module proxy here serves none), so it is
// written here, in 150 lines.
package forecast
