package main

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// problems collects configuration errors, each naming the key it is about,
// so that one run reports everything wrong at once.
type problems struct {
	list []string
	keys []string // the key of each problem in list
	// failed holds the keys whose value could not be decoded or parsed (a
	// duration, a mode's name, a secret's env or file): a validation error
	// on the same key would only repeat it.
	failed map[string]bool
	// from names the environment variable or flag that set a key, so an
	// error about an overridden value points where it came from.
	from map[string]string
	// unreliable holds the top-level sections ("*": all) in which the YAML
	// decoder dropped a list element or a mapping: their decoded values are
	// shifted or missing, so checking them would report wrong keys.
	unreliable map[string]bool
	skipped    []string // sections whose checks were skipped
	checking   bool     // decoding is over; add is validating values
}

func newProblems() *problems {
	return &problems{failed: map[string]bool{}, from: map[string]string{}, unreliable: map[string]bool{}}
}

// section is the top-level key of a path: nas for nas[1].secret.
func section(path string) string {
	if i := strings.IndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return path
}

// add records a problem with the key at path ("" for the whole file).
func (p *problems) add(path, format string, args ...any) {
	if sec := section(path); p.checking && path != "" && (p.unreliable["*"] || p.unreliable[sec]) {
		if !slices.Contains(p.skipped, sec) {
			p.skipped = append(p.skipped, sec)
		}
		return
	}
	if p.failed[path] {
		return
	}
	msg := fmt.Sprintf(format, args...)
	p.keys = append(p.keys, path)
	if path == "" {
		p.list = append(p.list, msg)
		return
	}
	base, _, _ := strings.Cut(path, "[")
	if src, ok := p.from[base]; ok {
		path += " (from " + src + ")"
	}
	p.list = append(p.list, path+": "+msg)
}

// err is the configError of every problem, nil if none. The problems are
// listed by section in the file's order, and a list's by entry (nas[0]
// before nas[1]), each in the order found.
func (p *problems) err(source string) error {
	if len(p.list) == 0 {
		return nil
	}
	order := map[string]int{}
	for i, k := range yamlKeys(reflect.TypeOf(fileConfig{})) {
		order[k] = i + 1
	}
	idx := make([]int, len(p.list))
	for i := range idx {
		idx[i] = i
	}
	rank := func(key string) (int, int) {
		sec := section(key)
		entry := -1
		if rest, ok := strings.CutPrefix(key, sec+"["); ok {
			n, _, _ := strings.Cut(rest, "]")
			entry, _ = strconv.Atoi(n)
		}
		return order[sec], entry
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		sa, ea := rank(p.keys[a])
		sb, eb := rank(p.keys[b])
		return cmp.Or(cmp.Compare(sa, sb), cmp.Compare(ea, eb))
	})
	list := make([]string, len(idx))
	for i, j := range idx {
		list[i] = p.list[j]
	}
	e := &configError{source: source, problems: list}
	if len(p.skipped) > 0 {
		e.note = fmt.Sprintf("the values under %s were not checked further: fix the problems above first", strings.Join(p.skipped, ", "))
	}
	return e
}

// configError is a configuration or usage error: the process exits with
// status 2. It lists every problem found, one per line.
type configError struct {
	source   string // the file, "command line" or "demo"
	problems []string
	note     string // said after the problems
}

func (e *configError) Error() string {
	var s string
	if len(e.problems) == 1 {
		s = e.source + ": " + e.problems[0]
	} else {
		s = fmt.Sprintf("%s: %d problems:\n  %s", e.source, len(e.problems), strings.Join(e.problems, "\n  "))
	}
	if e.note != "" {
		s += "\n(" + e.note + ")"
	}
	return s
}

// decodeYAML decodes b into dst strictly: unknown keys, values of the wrong
// type and duplicate keys are problems naming the key path (nas[1].secret),
// all reported together. A YAML syntax error is returned as is: nothing
// after it can be trusted.
func decodeYAML(b []byte, dst any, p *problems) error {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return redactYAMLError(err)
	}
	if len(root.Content) == 0 {
		return errors.New("the file is empty: it needs at least the nas list (see testdata/config/radiusd.example.yaml)")
	}
	w := walker{lines: map[int][]node{}, unknown: map[int]bool{}, p: p}
	w.walk(root.Content[0], reflect.TypeOf(dst).Elem(), "", 0)

	// The decoder checks the same things (KnownFields); its messages name
	// Go types and lines, so they are translated to key paths, and unknown
	// keys the walker already reported are not repeated.
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	err := dec.Decode(dst)
	var te *yaml.TypeError
	switch {
	case errors.As(err, &te):
		for _, msg := range te.Errors {
			w.typeError(msg)
		}
	case err != nil:
		return redactYAMLError(err)
	}
	p.checking = true
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == io.EOF:
	case err != nil:
		return redactYAMLError(err)
	default:
		p.add("", "more than one YAML document (line %d: ---): put the whole configuration in one", next.Line)
	}
	return nil
}

// walker checks a YAML tree against the Go type it decodes into and records
// which key path each line holds.
type walker struct {
	lines   map[int][]node // line → the keys and values on it, in order
	unknown map[int]bool   // lines with an unknown key
	p       *problems
}

// node is a key or a value of the YAML tree and its key path.
type node struct {
	path  string
	key   string // for a key: its name
	kind  yaml.Kind
	value string // for a scalar value
}

func (w *walker) walk(n *yaml.Node, t reflect.Type, path string, depth int) {
	if depth > 32 {
		return // aliases can nest deeply; the decoder has its own limits
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	w.lines[n.Line] = append(w.lines[n.Line], node{path: path, kind: n.Kind, value: n.Value})
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" {
				continue // a merge key: the decoder checks what it merges
			}
			kp := joinPath(path, k.Value)
			ft, ok := fields[k.Value]
			if !ok {
				w.unknown[k.Line] = true
				if !keyLikeRE.MatchString(k.Value) {
					// secret:abc in a flow mapping is one key: the value.
					w.p.add(joinPath(path, "?"), "unknown key on line %d (not shown: it is not a key's name and may hold a value, e.g. \"secret:x\" without a space after the colon)", k.Line)
					continue
				}
				w.p.add(kp, "unknown key (line %d)%s", k.Line, suggest(k.Value, fields, path))
				continue
			}
			w.lines[k.Line] = append(w.lines[k.Line], node{path: kp, key: k.Value})
			w.walk(v, ft, kp, depth+1)
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, e := range n.Content {
			w.walk(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), depth+1)
		}
	}
}

var (
	lineRE      = regexp.MustCompile(`^line (\d+): (.*)$`)
	unmarshalRE = regexp.MustCompile("^cannot unmarshal (!!\\w+)(?: `(.*)`)? into (.+)$")
)

// typeError translates one message of a yaml.TypeError.
func (w *walker) typeError(msg string) {
	m := lineRE.FindStringSubmatch(msg)
	if m == nil {
		w.p.add("", "%s", redactYAML(msg))
		return
	}
	line, _ := strconv.Atoi(m[1])
	rest := m[2]
	if w.unknown[line] && strings.Contains(rest, "not found in type") {
		return
	}
	path := w.pathAt(line, rest)
	dup := false
	if d := dupKeyRE.FindStringSubmatch(rest); d != nil {
		dup = true
		rest = "set twice, on lines " + d[2] + " and " + m[1]
	}
	if u := unmarshalRE.FindStringSubmatch(rest); u != nil {
		got := strconv.Quote(u[2])
		switch {
		case u[1] == "!!seq":
			got = "a list"
		case u[1] == "!!map":
			got = "a mapping"
		case u[1] == "!!str":
			// Not the text: it may be a secret typed into the wrong key.
			got = "a string"
		case u[2] == "":
			got = "a " + strings.TrimPrefix(u[1], "!!")
		}
		rest = fmt.Sprintf("got %s, want %s", got, describeGoType(u[3]))
	} else if f := notFoundRE.FindStringSubmatch(rest); f != nil {
		// A key the walker did not see (one a merge key << brought in).
		name := "(not shown: it is not a key's name)"
		if keyLikeRE.MatchString(f[1]) {
			name = f[1]
		}
		rest = "unknown key " + name
	} else {
		rest = redactYAML(rest)
	}
	// The decoder drops a list element that fails, and a whole mapping with
	// a duplicate key: what follows in that section is shifted or missing.
	switch {
	case path == "" || (dup && section(path) == path):
		w.p.unreliable["*"] = true
	case dup || strings.HasSuffix(path, "]"):
		w.p.unreliable[section(path)] = true
	}
	if path == "" {
		w.p.add("", "line %d: %s", line, rest)
		return
	}
	if dup {
		w.p.add(path, "%s", rest)
	} else {
		w.p.add(path, "%s (line %d)", rest, line)
	}
	w.p.failed[path] = true
}

var (
	dupKeyRE   = regexp.MustCompile(`^mapping key "(.*)" already defined at line (\d+)$`)
	notFoundRE = regexp.MustCompile(`^field (.*) not found in type \S+$`)
	// keyLikeRE is what a mistyped key looks like (lisen, secret-env,
	// Listen). Anything else, digits or a colon in it, may be a value that
	// became a key, and is not repeated.
	keyLikeRE = regexp.MustCompile(`^[A-Za-z][A-Za-z_-]{0,63}$`)
	// yamlQuotedRE is what the YAML parser quotes of the file in its
	// messages: values (`...`, "...") and anchor names ('...').
	yamlQuotedRE = regexp.MustCompile("`[^`]*`|'[^']*'|\"[^\"]*\"")
)

// redactYAML removes what a YAML message quotes of the file: a value, or
// an anchor or alias name (a secret that starts with & or * is one), may
// be a secret.
func redactYAML(msg string) string {
	return yamlQuotedRE.ReplaceAllString(msg, "(not shown)")
}

// redactYAMLError is err with redactYAML applied to its message.
func redactYAMLError(err error) error {
	return errors.New(redactYAML(err.Error()))
}

// pathAt finds the key path a decoder message is about. The decoder gives
// only a line, and a line can hold several keys (flow style: {a: 1, b: x}),
// so the message's key or value picks among them; else the deepest wins.
func (w *walker) pathAt(line int, msg string) string {
	nodes := w.lines[line]
	if len(nodes) == 0 {
		return ""
	}
	match := func(ok func(node) bool) (string, bool) {
		for i := len(nodes) - 1; i >= 0; i-- {
			if ok(nodes[i]) {
				return nodes[i].path, true
			}
		}
		return "", false
	}
	if d := dupKeyRE.FindStringSubmatch(msg); d != nil {
		if p, ok := match(func(n node) bool { return n.key == d[1] }); ok {
			return p
		}
	}
	if u := unmarshalRE.FindStringSubmatch(msg); u != nil {
		val, truncated := strings.CutSuffix(u[2], "...")
		kind := map[string]yaml.Kind{"!!seq": yaml.SequenceNode, "!!map": yaml.MappingNode}[u[1]]
		if p, ok := match(func(n node) bool {
			switch {
			case n.key != "":
				return false
			case kind != 0:
				return n.kind == kind
			case truncated:
				return n.kind == yaml.ScalarNode && strings.HasPrefix(n.value, val)
			}
			return n.kind == yaml.ScalarNode && n.value == val
		}); ok {
			return p
		}
	}
	return nodes[len(nodes)-1].path
}

func describeGoType(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "main."):
		return "a mapping of keys"
	case t == "bool":
		return "true or false"
	case t == "int":
		return "an integer"
	case t == "uint32":
		return "a whole number from 0 to 4294967295"
	case t == "string":
		return "a string"
	}
	return t
}

// yamlKeys lists the YAML keys of struct type t in the order of its fields.
func yamlKeys(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		if name := yamlName(t.Field(i)); name != "" {
			out = append(out, name)
		}
	}
	return out
}

// yamlName is the YAML key of a struct field, "" if it has none.
func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" || !f.IsExported() {
		return ""
	}
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name
}

// yamlFields maps the YAML keys of struct type t to their field types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		if f := t.Field(i); yamlName(f) != "" {
			out[yamlName(f)] = f.Type
		}
	}
	return out
}

// suggest names the closest known key, or lists them all.
func suggest(key string, fields map[string]reflect.Type, path string) string {
	names := make([]string, 0, len(fields))
	best, bestD := "", 3
	for n := range fields {
		names = append(names, n)
		if d := editDistance(strings.ToLower(key), n); d < bestD {
			best, bestD = n, d
		}
	}
	if best != "" {
		return fmt.Sprintf("; did you mean %s?", best)
	}
	sort.Strings(names)
	where := "at the top level"
	if path != "" {
		where = "under " + path
	}
	return fmt.Sprintf("; known keys %s: %s", where, strings.Join(names, ", "))
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
