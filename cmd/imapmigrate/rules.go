package main

import (
	"fmt"
	"regexp"

	"github.com/spf13/pflag"

	"github.com/imapmigrate/imapmigrate/mapping"
)

// ruleFlags are the folder mapping rules shared by sync and plan.
type ruleFlags struct {
	include, exclude, maps []string
	subfolder              string
	preset                 string
	noAutomap              bool
}

func addRuleFlags(fs *pflag.FlagSet) *ruleFlags {
	r := &ruleFlags{}
	fs.StringArrayVar(&r.include, "include", nil, "copy only source folders whose full name matches this regular expression (repeatable)")
	fs.StringArrayVar(&r.exclude, "exclude", nil, "skip source folders whose full name matches this regular expression (repeatable)")
	fs.StringArrayVar(&r.maps, "map", nil, `send one source folder to a destination folder: "SRC=DST", DST written with "/" (repeatable; wins over everything else)`)
	fs.StringVar(&r.subfolder, "subfolder", "", "put the whole tree under this destination folder, as it is (no special-use mapping)")
	fs.StringVar(&r.preset, "preset", "", "gmail (skip All Mail, Important, Starred) or exchange (skip Calendar, Contacts, Tasks, ...)")
	fs.BoolVar(&r.noAutomap, "no-automap", false, "do not map special folders (Sent, Drafts, Trash, Junk, Archive) by attribute or well-known name")
	return r
}

func (r *ruleFlags) rules() (mapping.Rules, error) {
	var out mapping.Rules
	compile := func(flag string, exprs []string) ([]*regexp.Regexp, error) {
		var res []*regexp.Regexp
		for _, e := range exprs {
			re, err := regexp.Compile(e)
			if err != nil {
				return nil, usageError{fmt.Sprintf("--%s %q: %v", flag, e, err)}
			}
			res = append(res, re)
		}
		return res, nil
	}
	var err error
	if out.Include, err = compile("include", r.include); err != nil {
		return out, err
	}
	if out.Exclude, err = compile("exclude", r.exclude); err != nil {
		return out, err
	}
	for _, m := range r.maps {
		rule, err := mapping.ParseMapRule(m)
		if err != nil {
			return out, usageError{fmt.Sprintf("--map %q: %v", m, err)}
		}
		out.Map = append(out.Map, rule)
	}
	if r.preset != "" {
		if _, err := mapping.Preset(r.preset); err != nil {
			return out, usageError{fmt.Sprintf("--preset: %v", err)}
		}
	}
	out.Subfolder, out.Preset, out.NoAutomap = r.subfolder, r.preset, r.noAutomap
	return out, nil
}
