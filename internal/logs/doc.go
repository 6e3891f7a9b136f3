// Package logs keeps the output of instances as CloudWatch Logs keeps it:
// log group /aws/sagemaker/Endpoints/<endpoint>, one stream per instance
// named <variant>/<instance-id>, each line of output one event.
//
// Instances write their output to a plain file, which they keep writing
// whether or not a server runs (instances outlive a crashed server and are
// adopted by the next). The Store follows those files the way the
// CloudWatch agent follows a log file: it reads what was appended, and
// stamps each complete line with the time it read it (there is no
// timestamp in raw output to parse), so an event's timestamp and its
// ingestion time are the same, up to one poll interval after the line
// was written. When an instance has ended the Store reads its file to the
// end (a last line without a newline included) and removes it.
//
// Each stream is one append-only file under the Store's directory:
//
//	#created <ms>
//	<seq> <ms> <offset> <message>
//	...
//
// where seq numbers the stream's events for good (paging tokens refer to
// it), ms is the event's time in milliseconds since the epoch and offset
// is where in the instance's output file the line ended, so that a
// restarted server resumes exactly where the last one stopped: no line is
// lost and none is read twice. A torn last line (a crash in mid-write) is
// cut off when the Store opens.
//
// Retention is bounded two ways: events older than the retention period
// (Options.Retention, one of CloudWatch's retention values, 30 days by
// default) are deleted, with the streams and groups left empty; and a
// stream keeps at most Options.MaxStreamBytes of events (64 MiB by
// default), its oldest dropped first.
package logs
