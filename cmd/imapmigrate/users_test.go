package main

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseUsers(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string // "src>dst:srcpw:dstpw;..." or the error text to contain
		wantErr bool
	}{
		{"plain", "src_user,dst_user\nalice,alice\nbob,robert\n", "alice>alice::;bob>robert::", false},
		{"comments and blank dst", "# users of 2026\nsrc_user,dst_user\n# bob leaves\nalice,\ncarol,carol\n", "alice>alice::;carol>carol::", false},
		{"passwords", "src_user,dst_user,src_password,dst_password\nalice,alice,s1,d1\n", "alice>alice:s1:d1", false},
		{"columns in any order", "dst_user,src_user\nnew-alice,alice\n", "alice>new-alice::", false},
		{"short line named", "src_user,dst_user\nalice,alice\nbob\n", "line 3: 1 fields, the header has 2", true},
		{"unknown column", "src_user,dest\nalice,alice\n", `line 1: unknown column "dest"`, true},
		{"no src_user", "dst_user\nalice\n", "no src_user column", true},
		{"empty src_user", "src_user,dst_user\n,alice\n", "line 2: empty src_user", true},
		{"duplicate", "src_user,dst_user\nalice,a\nbob,b\nalice,c\n", "line 4: user alice already on line 2", true},
		{"empty", "src_user,dst_user\n", "no users", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			users, err := parseUsers("u.csv", strings.NewReader(tt.in))
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error %v, want one containing %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, u := range users {
				got = append(got, fmt.Sprintf("%s>%s:%s:%s", u.SrcUser, u.DstUser, u.SrcPassword, u.DstPassword))
			}
			if strings.Join(got, ";") != tt.want {
				t.Errorf("got %q, want %q", strings.Join(got, ";"), tt.want)
			}
		})
	}
}

// TestShardsPartition: every user is in exactly one shard, whatever N.
func TestShardsPartition(t *testing.T) {
	var users []string
	for i := range 1000 {
		users = append(users, fmt.Sprintf("user%04d@example.org", i))
	}
	for _, n := range []int{1, 2, 3, 7, 16} {
		owners := map[string]int{}
		for i := range n {
			sh, err := parseShard(fmt.Sprintf("%d/%d", i, n))
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range users {
				if sh.owns(u) {
					owners[u]++
				}
			}
		}
		for _, u := range users {
			if owners[u] != 1 {
				t.Fatalf("N=%d: user %s is in %d shards", n, u, owners[u])
			}
		}
	}
	for _, bad := range []string{"4/4", "-1/3", "1", "a/b", "0/0"} {
		if _, err := parseShard(bad); err == nil {
			t.Errorf("--shard %q accepted", bad)
		}
	}
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]int64{"20M": 20e6, "512k": 512e3, "1Gi": 1 << 30, "1000": 1000, "2.5MB/s": 2.5e6, "": 0} {
		got, err := parseRate(in)
		if err != nil || got != want {
			t.Errorf("parseRate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"fast", "-1M", "0"} {
		if _, err := parseRate(bad); err == nil {
			t.Errorf("parseRate(%q) accepted", bad)
		}
	}
}
