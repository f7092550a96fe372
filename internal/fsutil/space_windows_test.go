package fsutil

import "testing"

// TestSameDisk: paths on one volume are, whatever the case of its letter;
// paths on two are not.
func TestSameDisk(t *testing.T) {
	if !SameDisk(`C:\Users\a`, `c:\Windows\b`) {
		t.Error("two paths on C: are on different volumes")
	}
	if SameDisk(`C:\a`, `D:\a`) {
		t.Error("C: and D: are one volume")
	}
}
