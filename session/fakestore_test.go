package session

import (
	"context"
	"fmt"
	"sync"
)

// fakeStore is an in-memory Store: sessions keyed by ID, a sequence counter
// per device, and a record of every call so tests can assert what was sent.
type fakeStore struct {
	mu      sync.Mutex
	data    map[string]Data
	order   map[MAC][]string // IDs per device, in insertion order
	seq     map[MAC]uint64
	calls   []string  // method names, in call order
	saves   []Changes // every SaveSession argument, in call order
	failErr error     // when set, every method returns it
	// lostReply, when set, is returned by SaveSession after it applied the
	// changes: a reply lost on the way back.
	lostReply error
	// duringSave, when set, runs inside SaveSession before it applies
	// anything (without the store's lock): what a caller does while its
	// Save waits for the store.
	duringSave func()
	writers    map[string]Counters // per writer, the highest running total applied
}

var _ Store = (*fakeStore)(nil)

func newFakeStore() *fakeStore {
	return &fakeStore{data: map[string]Data{}, order: map[MAC][]string{}, seq: map[MAC]uint64{}, writers: map[string]Counters{}}
}

// put stores d as is (its ID must be set), bypassing CreateSession.
func (f *fakeStore) put(d Data) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.data[d.ID]; !ok {
		f.order[d.MAC] = append(f.order[d.MAC], d.ID)
	}
	if _, seq, err := ParseID(d.ID); err == nil && seq > f.seq[d.MAC] {
		f.seq[d.MAC] = seq
	}
	f.data[d.ID] = d
}

// get returns the stored session without recording a call.
func (f *fakeStore) get(id string) (Data, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.data[id]
	return d, ok
}

// callsOf returns how many times method was called.
func (f *fakeStore) callsOf(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c == method {
			n++
		}
	}
	return n
}

func (f *fakeStore) record(method string) error {
	f.calls = append(f.calls, method)
	return f.failErr
}

func (f *fakeStore) CreateSession(_ context.Context, d Data) (Data, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("CreateSession"); err != nil {
		return Data{}, err
	}
	f.seq[d.MAC]++
	d.ID = NewID(d.MAC, f.seq[d.MAC])
	f.data[d.ID] = d
	f.order[d.MAC] = append(f.order[d.MAC], d.ID)
	return d, nil
}

func (f *fakeStore) GetSession(_ context.Context, id string) (Data, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("GetSession"); err != nil {
		return Data{}, err
	}
	d, ok := f.data[id]
	if !ok {
		return Data{}, fmt.Errorf("fake: session %s: %w", id, ErrNotFound)
	}
	return d, nil
}

func (f *fakeStore) DeviceSessions(_ context.Context, mac MAC) ([]Data, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("DeviceSessions"); err != nil {
		return nil, err
	}
	out := []Data{}
	for _, id := range f.order[mac] {
		if d, ok := f.data[id]; ok {
			out = append(out, d)
		}
	}
	return out, nil
}

func (f *fakeStore) SaveSession(_ context.Context, id string, c Changes) (Data, error) {
	if hook := f.duringSave; hook != nil {
		hook()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("SaveSession"); err != nil {
		return Data{}, err
	}
	f.saves = append(f.saves, c)
	d, ok := f.data[id]
	if !ok {
		return Data{}, fmt.Errorf("fake: session %s: %w", id, ErrNotFound)
	}
	v := c.Values
	if c.Set&FieldTimeSecs != 0 {
		d.TimeSecs = v.TimeSecs
	}
	if c.Set&FieldDataBytes != 0 {
		d.DataBytes = v.DataBytes
	}
	if c.Set&FieldTimeCons != 0 {
		d.TimeCons = v.TimeCons
	}
	if c.Set&FieldDataConsBytes != 0 {
		d.DataConsBytes = v.DataConsBytes
	}
	if c.Set&FieldStartedAt != 0 {
		d.StartedAt = v.StartedAt
	}
	if c.Set&FieldExpDays != 0 {
		d.ExpDays, d.HasExpiry = v.ExpDays, v.HasExpiry
	}
	if c.Set&FieldDownMbits != 0 {
		d.DownMbits = v.DownMbits
	}
	if c.Set&FieldUpMbits != 0 {
		d.UpMbits = v.UpMbits
	}
	if c.Set&FieldUseGlobalSpeed != 0 {
		d.UseGlobalSpeed = v.UseGlobalSpeed
	}
	if c.Set&FieldProvider != 0 {
		d.Provider = v.Provider
	}
	inc := c.Inc()
	if c.Writer != "" {
		// Add only what exceeds the writer's highest running total applied.
		seen := f.writers[c.Writer]
		for _, x := range []struct{ inc, acked, seen *uint64 }{
			{&inc.TimeCons, &c.Acked.TimeCons, &seen.TimeCons},
			{&inc.DataConsBytes, &c.Acked.DataConsBytes, &seen.DataConsBytes},
			{&inc.TimeSecs, &c.Acked.TimeSecs, &seen.TimeSecs},
			{&inc.DataBytes, &c.Acked.DataBytes, &seen.DataBytes},
		} {
			total, done := *x.acked+*x.inc, max(*x.seen, *x.acked)
			*x.inc = total - min(done, total)
			*x.seen = max(done, total)
		}
		f.writers[c.Writer] = seen
	}
	for _, x := range []struct {
		field Field
		dst   *uint64
		inc   uint64
	}{
		{FieldTimeCons, &d.TimeCons, inc.TimeCons},
		{FieldDataConsBytes, &d.DataConsBytes, inc.DataConsBytes},
		{FieldTimeSecs, &d.TimeSecs, inc.TimeSecs},
		{FieldDataBytes, &d.DataBytes, inc.DataBytes},
	} {
		if c.Set&x.field == 0 {
			*x.dst += x.inc
		}
	}
	f.data[id] = d
	if f.lostReply != nil {
		return Data{}, f.lostReply
	}
	return d, nil
}

func (f *fakeStore) DeleteSession(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("DeleteSession"); err != nil {
		return err
	}
	d, ok := f.data[id]
	if !ok {
		return fmt.Errorf("fake: session %s: %w", id, ErrNotFound)
	}
	delete(f.data, id)
	ids := f.order[d.MAC]
	for i, x := range ids {
		if x == id {
			f.order[d.MAC] = append(ids[:i:i], ids[i+1:]...)
			break
		}
	}
	return nil
}
