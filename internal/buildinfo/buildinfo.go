// Package buildinfo is what a binary knows about its own build: module version, commit, build date
// and Go version. `tenantatlas version --json`, the engines registry and doctor show it.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Version, Commit and Date may be set at build time, e.g.
//
//	go build -ldflags "-X github.com/tenantatlas/tenantatlas/internal/buildinfo.Version=v1.2.0"
//
// Unset, they come from the module and VCS information Go embeds (runtime/debug.ReadBuildInfo).
var (
	Version = ""
	Commit  = ""
	Date    = ""
)

// Info is one binary's build.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Modified  bool   `json:"modified,omitempty"`
	BuildDate string `json:"build_date"`
	GoVersion string `json:"go_version"`
	Module    string `json:"module"`
}

// Get returns this binary's build information. Fields nothing knows are "unknown" (the version is
// "dev" for a build outside a tagged module).
func Get() Info {
	info := Info{Version: Version, Commit: Commit, BuildDate: Date, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		info.Module = bi.Main.Path
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if info.Commit == "" {
					info.Commit = s.Value
				}
			case "vcs.time":
				if info.BuildDate == "" {
					info.BuildDate = s.Value
				}
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
	}
	if info.Version == "" {
		info.Version = "dev"
	}
	if info.Commit == "" {
		info.Commit = "unknown"
	}
	if info.BuildDate == "" {
		info.BuildDate = "unknown"
	}
	return info
}

// Short is the version and the commit's first 12 characters, as lists show it ("dev@1a2b3c4d5e6f").
func (i Info) Short() string {
	c := i.Commit
	if len(c) > 12 {
		c = c[:12]
	}
	if c == "unknown" {
		return i.Version
	}
	s := i.Version + "@" + c
	if i.Modified {
		s += "+dirty"
	}
	return s
}
