package console

import (
	"encoding/json"
	"net/http"
	"slices"

	"github.com/ebbscale/ebb/internal/logs"
)

// tailLines is how many of a stream's last lines a logs page opens with.
const tailLines = 200

// logGroup is an endpoint's log group, as SageMaker names it.
func logGroup(endpoint string) string { return "/aws/sagemaker/Endpoints/" + endpoint }

// logsPage lists an endpoint's log streams (one per instance, newest
// first) and follows the one chosen (?stream=, default the newest).
func (h *Handler) logsPage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if h.o.Logs == nil {
		http.Error(w, "Instance logs are read with kubectl logs on the Kubernetes runtime.", http.StatusNotFound)
		return
	}
	streams, err := h.o.Logs.Streams(logGroup(name))
	if err != nil {
		streams = nil // a group appears with its first instance's first line
	}
	slices.SortFunc(streams, func(a, b logs.Stream) int { return b.Created.Compare(a.Created) })
	chosen := r.URL.Query().Get("stream")
	if chosen == "" && len(streams) > 0 {
		chosen = streams[0].Name
	}
	h.render(w, r, "logs", name+" logs", map[string]any{"Endpoint": name, "Group": logGroup(name), "Streams": streams, "Stream": chosen})
}

// logLine is a log event as a logs page shows it.
type logLine struct {
	Seq     int64  `json:"seq"`
	Time    int64  `json:"time"` // ms
	Message string `json:"message"`
}

// logsLive streams a log stream's lines as Server-Sent Events: its last
// tailLines at once, then each new line as it is read.
func (h *Handler) logsLive(w http.ResponseWriter, r *http.Request) {
	if h.o.Logs == nil {
		http.Error(w, "No instance logs on this runtime.", http.StatusNotFound)
		return
	}
	group, stream := logGroup(r.PathValue("name")), r.URL.Query().Get("stream")
	next := int64(-1) // the first Seq not yet sent; -1: start with the tail
	size := int64(-1) // the stream's stored bytes when last read
	h.stream(w, r, func() ([]byte, error) {
		// The stream is read again only once it has grown.
		n := storedBytes(h.o.Logs, group, stream)
		if n == size {
			return []byte("[]"), nil
		}
		size = n
		var batch []logLine
		err := h.o.Logs.Events(group, stream, func(e logs.Event) bool {
			if e.Seq >= next {
				batch = append(batch, logLine{Seq: e.Seq, Time: e.Time.UnixMilli(), Message: e.Message})
				if next < 0 && len(batch) > tailLines {
					batch = batch[1:]
				}
			}
			return true
		})
		if err != nil {
			batch = nil // not there yet: the instance has written nothing
		}
		if len(batch) > 0 {
			next = batch[len(batch)-1].Seq + 1
		} else if next < 0 {
			next = 0
		}
		if batch == nil {
			batch = []logLine{}
		}
		return json.Marshal(batch)
	})
}

// storedBytes is a log stream's size, -1 when it is not there.
func storedBytes(l Logs, group, stream string) int64 {
	streams, err := l.Streams(group)
	if err != nil {
		return -1
	}
	for _, st := range streams {
		if st.Name == stream {
			return st.StoredBytes
		}
	}
	return -1
}
