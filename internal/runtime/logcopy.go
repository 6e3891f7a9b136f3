package runtime

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// ContainerLog is the copy of a container's log that a runtime keeps for
// the log store (LogFollower) at Path, for runtimes that read it from an
// API (Docker's logs, the pod log API) rather than from the process. Beside
// it, Path.at holds the stamp of the last line copied: a restarted server
// resumes there, with no line lost or copied twice. (A file's modification
// time cannot say it: the kernel stamps it with a clock that may lag the
// line's stamp by a tick.)
type ContainerLog struct{ Path string }

// Since is the stamp of the last line copied; zero for a new log.
func (l ContainerLog) Since() time.Time {
	b, err := os.ReadFile(l.Path + ".at")
	if err != nil {
		return time.Time{}
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// Copy appends the lines of r, a timestamped log (each "TIME text", as
// `docker logs -t` and `kubectl logs --timestamps` give them), stamped
// after since, to the copy without their stamps, until r ends.
func (l ContainerLog) Copy(r io.Reader, since time.Time) error {
	f, err := os.OpenFile(l.Path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	at, err := os.OpenFile(l.Path+".at", os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer at.Close()
	CopyStampedLines(f, r, since, func(t time.Time) {
		// Fixed width: each stamp overwrites the last in place.
		at.WriteAt(fmt.Appendf(nil, "%020d\n", t.UnixNano()), 0)
	})
	return nil
}

// Remove removes what the copy left beside the log (the log store removes
// the log itself once it has read it).
func (l ContainerLog) Remove() { os.Remove(l.Path + ".at") }

// CopyStampedLines writes the lines of a timestamped container log to w
// without their stamps, skipping those not after since, and tells copied
// the stamp of each line it wrote (nil: no one).
func CopyStampedLines(w io.Writer, r io.Reader, since time.Time, copied func(time.Time)) {
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			stamp, text, ok := strings.Cut(line, " ")
			t, perr := time.Parse(time.RFC3339Nano, stamp)
			switch {
			case !ok || perr != nil:
				io.WriteString(w, line) // not stamped: keep it whole
			case since.IsZero() || t.After(since):
				if !strings.HasSuffix(text, "\n") {
					text += "\n"
				}
				io.WriteString(w, text)
				if copied != nil {
					copied(t)
				}
			}
		}
		if err != nil {
			return
		}
	}
}
