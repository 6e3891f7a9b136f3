package hosting

import "testing"

// TestFootprint: the quota counts what live endpoints hold or want, and of
// a Failed endpoint only the instances it still has.
func TestFootprint(t *testing.T) {
	got := map[string]int{}
	footprint(&EndpointView{Status: StatusInService, Variants: []VariantView{{InstanceType: "ml.m5.large", DesiredCount: 3, CurrentCount: 2}},
		Pending: &PendingView{Variants: []VariantView{{InstanceType: "ml.c5.large", DesiredCount: 1}}}}, got)
	footprint(&EndpointView{Status: StatusUpdating, Variants: []VariantView{{InstanceType: "ml.m5.large", DesiredCount: 1, CurrentCount: 2}}}, got)
	footprint(&EndpointView{Status: StatusFailed, Variants: []VariantView{{InstanceType: "ml.m5.large", DesiredCount: 5, CurrentCount: 0}}}, got)
	if got["ml.m5.large"] != 5 || got["ml.c5.large"] != 1 {
		t.Fatalf("footprint = %v, want ml.m5.large 5 (3 wanted + 2 still running; the Failed endpoint's 5 wanted not counted), ml.c5.large 1", got)
	}
}
