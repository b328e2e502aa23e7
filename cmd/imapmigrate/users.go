package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/imapmigrate/imapmigrate/imapsync"
)

// readUsers reads a users file: CSV with a header naming src_user, dst_user
// and optionally src_password, dst_password; lines starting with # are
// comments. Every malformed line is an error naming it, before anything
// starts.
func readUsers(path string) ([]imapsync.UserSpec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("users file: %w", err)
	}
	defer f.Close()
	return parseUsers(path, f)
}

func parseUsers(name string, r io.Reader) ([]imapsync.UserSpec, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("users file %s: header: %w", name, err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		switch h {
		case "src_user", "dst_user", "src_password", "dst_password":
		default:
			return nil, fmt.Errorf("users file %s: line 1: unknown column %q (want src_user, dst_user, src_password, dst_password)", name, h)
		}
		if _, dup := col[h]; dup {
			return nil, fmt.Errorf("users file %s: line 1: column %q twice", name, h)
		}
		col[h] = i
	}
	if _, ok := col["src_user"]; !ok {
		return nil, fmt.Errorf("users file %s: line 1: no src_user column", name)
	}
	var users []imapsync.UserSpec
	var errs []error
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			errs = append(errs, fmt.Errorf("users file %s: %w", name, err))
			break
		}
		if len(rec) != len(header) {
			errs = append(errs, fmt.Errorf("users file %s: line %d: %d fields, the header has %d", name, line, len(rec), len(header)))
			continue
		}
		get := func(c string) string {
			if i, ok := col[c]; ok {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		u := imapsync.UserSpec{SrcUser: get("src_user"), DstUser: get("dst_user"),
			SrcPassword: get("src_password"), DstPassword: get("dst_password"), Line: line}
		if u.DstUser == "" {
			u.DstUser = u.SrcUser
		}
		if u.SrcUser == "" {
			errs = append(errs, fmt.Errorf("users file %s: line %d: empty src_user", name, line))
			continue
		}
		if prev, dup := seen[u.SrcUser]; dup {
			errs = append(errs, fmt.Errorf("users file %s: line %d: user %s already on line %d", name, line, u.SrcUser, prev))
			continue
		}
		seen[u.SrcUser] = line
		users = append(users, u)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("users file %s: no users", name)
	}
	return users, nil
}

// shard is --shard I/N: the users whose source name hashes to I mod N, so
// that N machines can share one users file with no overlap. I counts from 0
// (Kubernetes' JOB_COMPLETION_INDEX).
type shard struct{ index, count int }

func parseShard(s string) (shard, error) {
	if s == "" {
		return shard{0, 1}, nil
	}
	i, n, ok := strings.Cut(s, "/")
	index, err1 := strconv.Atoi(i)
	count, err2 := strconv.Atoi(n)
	if !ok || err1 != nil || err2 != nil || count < 1 || index < 0 || index >= count {
		return shard{}, usageError{fmt.Sprintf("--shard %q: want I/N with 0 <= I < N, e.g. 0/4", s)}
	}
	return shard{index, count}, nil
}

// owns reports whether the user belongs to this shard.
func (s shard) owns(srcUser string) bool {
	h := fnv.New32a()
	h.Write([]byte(srcUser))
	return int(h.Sum32()%uint32(s.count)) == s.index
}

func (s shard) filter(users []imapsync.UserSpec) []imapsync.UserSpec {
	var out []imapsync.UserSpec
	for _, u := range users {
		if s.owns(u.SrcUser) {
			out = append(out, u)
		}
	}
	return out
}

// parseRate reads a byte count such as 20M, 512k, 1.5G or 1000 (bytes);
// suffixes are powers of 1000, Ki/Mi/Gi powers of 1024.
func parseRate(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	t := strings.TrimSuffix(strings.TrimSpace(s), "/s")
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "b")
	mult := 1.0
	for _, u := range []struct {
		suffix string
		m      float64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"k", 1e3}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.m
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("%q is not a positive size like 20M, 512k or 1Gi", s)
	}
	return int64(v * mult), nil
}
