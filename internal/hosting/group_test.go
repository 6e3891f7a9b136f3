package hosting

import "testing"

// TestSplitMemberID: the ID of a container run as an instance of its own
// gives back its group and hostname, also where one hostname ends another
// (b and a-b), and nothing for an ID of another endpoint or variant.
func TestSplitMemberID(t *testing.T) {
	hosts := []string{"b", "A-b"}
	for _, c := range []struct {
		id, group, host string
		ok              bool
	}{
		{memberID("ep-v-0123abcd", "A-b"), "ep-v-0123abcd", "A-b", true},
		{memberID("ep-v-0123abcd", "b"), "ep-v-0123abcd", "b", true},
		{"ep-v-0123abcd-c", "", "", false},
		{"ep-w-0123abcd-b", "", "", false},
		{"ep-v-0123abcd", "", "", false},
	} {
		group, host, ok := splitMemberID(c.id, "EP", "V", hosts)
		if group != c.group || host != c.host || ok != c.ok {
			t.Errorf("splitMemberID(%q) = %q, %q, %v; want %q, %q, %v", c.id, group, host, ok, c.group, c.host, c.ok)
		}
	}
	if got := containerHostnames([]Container{{ContainerHostname: "x"}, {}}); got[0] != "x" || got[1] != "container-2" {
		t.Errorf("containerHostnames = %v", got)
	}
}
