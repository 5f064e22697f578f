package main

import (
	"strings"
	"testing"
)

func TestParseSeconds(t *testing.T) {
	tests := []struct {
		in      string
		want    uint64
		wantErr string // substring; "" means success
	}{
		{"3600", 3600, ""},
		{"0", 0, ""},
		{"1h30m", 5400, ""},
		{"90s", 90, ""},
		{"1.5h", 5400, ""},
		{"2d", 172800, ""},
		{"1d12h", 129600, ""},
		{" 60 ", 60, ""},
		{"", 0, "empty"},
		{"-5", 0, "negative"},
		{"-1h", 0, "negative"},
		{"1d-1h", 0, "want seconds"},
		{"soon", 0, "want seconds"},
		{"d", 0, "want seconds"},
		{"1x", 0, "want seconds"},
		{"1.5s", 0, "whole seconds"},
		{"500ms", 0, "whole seconds"},
		{"99999999999999999999", 0, "too large"},
		{"999999999999999d", 0, "too large"},
		{"9223372036854775807", 9223372036854775807, ""},
		{"9223372036854775808", 0, "too large"},
		{"106751991167300d1000h", 0, "too large"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseSeconds(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("parseSeconds(%q): got %d, %v; want an error containing %q", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("parseSeconds(%q): got %d, %v; want %d", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestFlagValues(t *testing.T) {
	tests := []struct {
		name    string
		set     func(string) error
		in      string
		wantErr string
	}{
		{"mb", new(mbValue).Set, "0.5", ""},
		{"mb negative", new(mbValue).Set, "-5", "negative"},
		{"mb NaN", new(mbValue).Set, "NaN", "want a number"},
		{"mb Inf", new(mbValue).Set, "Inf", "want a number"},
		{"mb huge", new(mbValue).Set, "1e300", "too large"},
		{"mbits", new(mbitsValue).Set, "10", ""},
		{"mbits negative", new(mbitsValue).Set, "-1", "negative"},
		{"mbits fraction", new(mbitsValue).Set, "1.5", "whole number"},
		{"mbits huge", new(mbitsValue).Set, "4294967296", "too large"},
		{"exp days", new(expDaysValue).Set, "30", ""},
		{"exp days none", new(expDaysValue).Set, "none", ""},
		{"exp days zero", new(expDaysValue).Set, "0", "or none"},
		{"exp days negative", new(expDaysValue).Set, "-1", "negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.set(tc.in)
			if tc.wantErr == "" {
				if err != nil {
					t.Errorf("Set(%q): %v", tc.in, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Set(%q): got %v, want an error containing %q", tc.in, err, tc.wantErr)
			}
		})
	}
}

func TestSecsShort(t *testing.T) {
	for in, want := range map[uint64]string{0: "0s", 59: "59s", 5400: "1h30m", 86400: "1d", 90061: "1d1h1m1s"} {
		if got := secsShort(in); got != want {
			t.Errorf("secsShort(%d): got %q, want %q", in, got, want)
		}
	}
}
