// Package alarm evaluates CloudWatch metric alarms. Evaluate is a pure
// function of an alarm's configuration, its current state, the datapoints of
// its evaluation range and `now`; it reads no clock and does no I/O, so the
// live loop, the tests and offline simulation share it.
//
// The rules are CloudWatch's (AlarmThatSendsEmail, "How alarm state is
// evaluated when data is missing"):
//
//   - The evaluation range is EvaluationPeriods+2 periods (CloudWatch's
//     documented example retrieves 5 datapoints for 3 evaluation periods; the
//     exact rule is not published, this is the consistent choice).
//   - With at least N real datapoints in the range, the most recent N are
//     evaluated and TreatMissingData does not matter: ALARM if at least M
//     breach, else OK.
//   - With fewer, every real datapoint is evaluated and missing ones fill
//     the rest as TreatMissingData says: breaching and notBreaching count as
//     such; missing leaves them unknown (OK once a real datapoint is within
//     the threshold, INSUFFICIENT_DATA otherwise, but ALARM when the oldest
//     breaching datapoint is at least M periods old and nothing newer is
//     within the threshold: the premature-alarm rule); ignore does the same
//     but keeps the current state where missing would not decide.
//
// The package's tests are the documentation's tables.
package alarm
