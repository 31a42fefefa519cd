package main

import (
	"encoding/json"
	"io"
	"os"

	"golang.org/x/mod/modfile"
)

// Commands answering with golang.org/x/mod/modfile.ParseLax, the parser the
// go command uses for a dependency's go.mod (rawGoModSummary, fix == nil).

type parsedMod struct {
	Module     *string       `json:"module"`
	Deprecated string        `json:"deprecated"`
	Retract    []parsedRange `json:"retract"`
	Err        string        `json:"err"`
}

type parsedRange struct {
	Low       string `json:"low"`
	High      string `json:"high"`
	Rationale string `json:"rationale"`
}

func parseLax(data []byte) parsedMod {
	f, err := modfile.ParseLax("go.mod", data, nil)
	if err != nil {
		return parsedMod{Err: err.Error(), Retract: []parsedRange{}}
	}
	out := parsedMod{Retract: []parsedRange{}}
	if f.Module != nil {
		p := f.Module.Mod.Path
		out.Module = &p
		out.Deprecated = f.Module.Deprecated
	}
	for _, r := range f.Retract {
		out.Retract = append(out.Retract, parsedRange{Low: r.Low, High: r.High, Rationale: r.Rationale})
	}
	return out
}

func init() {
	register("modfile-parse", "< go.mod -> JSON {module, deprecated, retract: [{low, high, rationale}], err}", func(args []string) error {
		data, err := io.ReadAll(os.Stdin)
		if err != nil {
			return err
		}
		return json.NewEncoder(os.Stdout).Encode(parseLax(data))
	})

	register("modfile-parse-many", "< JSON array of go.mod texts -> JSON array of modfile-parse results", func(args []string) error {
		var files []string
		if err := json.NewDecoder(os.Stdin).Decode(&files); err != nil {
			return err
		}
		out := make([]parsedMod, len(files))
		for i, f := range files {
			out[i] = parseLax([]byte(f))
		}
		return json.NewEncoder(os.Stdout).Encode(out)
	})
}
