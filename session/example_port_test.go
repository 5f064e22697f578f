package session_test

import (
	"context"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/hotspot-radius/hsradius/redisstore"
	"github.com/hotspot-radius/hsradius/session"
)

// sdkClientSession is the part of the hotspot SDK's ClientSession interface
// that *session.ClientSession implements with the very same signatures; the
// assignment below fails to compile the day one of them changes. The rest
// differs (see README.md, section "Porting from the hotspot SDK"):
// DownMbits() int, UpMbits() int, SetDownMbits(int) and SetUpMbits(int) are
// uint here; SetStartedAt(*time.Time) takes a time.Time (the zero time
// clears it); SetExpDays(*uint) takes a uint (ClearExpDays clears it).
type sdkClientSession interface {
	Provider() string
	Type() uint8
	TimeSecs() uint
	DataMb() float64
	TimeConsumption() uint
	DataConsumption() float64
	RemainingTime() uint
	RemainingData() float64
	StartedAt() *time.Time
	CreatedAt() time.Time
	ExpDays() *uint
	ExpiresAt() *time.Time
	UseGlobalSpeed() bool
	IncTimeCons(sec uint)
	IncDataCons(mbytes float64)
	SetTimeSecs(sec uint)
	SetDataMb(mbytes float64)
	SetTimeCons(sec uint)
	SetDataCons(mbytes float64)
	SetUseGlobalSpeed(bool)
	Save(ctx context.Context) error
	Reload(ctx context.Context) error
}

var _ sdkClientSession = (*session.ClientSession)(nil)

// sdkStyleSetup returns a SessionsMgr on an in-memory Redis holding one
// time_or_data session (1 hour, 500 MB, 30 days from first use, 10/2
// Mbit/s) for the device clnt, and a function that frees it all.
func sdkStyleSetup(ctx context.Context) (mgr *session.SessionsMgr, clnt string, done func(), err error) {
	mr, err := miniredis.Run()
	if err != nil {
		return nil, "", nil, err
	}
	rdb, err := redisstore.NewClient(redisstore.ClientConfig{Addrs: []string{mr.Addr()}})
	if err != nil {
		mr.Close()
		return nil, "", nil, err
	}
	done = func() { _ = rdb.Close(); mr.Close() }
	store, err := redisstore.New(rdb, redisstore.Options{})
	if err != nil {
		done()
		return nil, "", nil, err
	}
	mgr = session.NewSessionsMgr(store, time.Now)
	clnt = "aa:bb:cc:dd:ee:ff" // the SDK identifies a device by a ClientDevice, this package by its MAC
	days := uint(30)
	spec := session.Spec{Provider: "coinslot", Type: session.TypeTimeOrData, TimeSecs: 3600, DataMb: 500, ExpDays: &days, DownMbits: 10, UpMbits: 2}
	if _, err := mgr.CreateSession(ctx, clnt, spec); err != nil {
		done()
		return nil, "", nil, err
	}
	return mgr, clnt, done, nil
}

// Code written the way the hotspot SDK's documentation writes it, method by
// method, builds and runs against this package: only the context that Save
// and Reload take and the device's MAC given to CurrSession differ.
func ExampleClientSession_sdkStyle() {
	ctx := context.Background()
	mgr, clnt, done, setupErr := sdkStyleSetup(ctx)
	if setupErr != nil {
		fmt.Println(setupErr)
		return
	}
	defer done()

	session, _ := mgr.CurrSession(ctx, clnt)

	provider := session.Provider()
	t := session.Type()
	secs := session.TimeSecs()
	mb := session.DataMb()
	fmt.Println(provider, t, secs, mb)

	session.IncTimeCons(60)
	session.Save(ctx)
	session.IncDataCons(10)
	session.Save(ctx)

	consumedSecs := session.TimeConsumption()
	consumedMb := session.DataConsumption()
	fmt.Println(consumedSecs, consumedMb, session.RemainingTime(), session.RemainingData())

	s := session.StartedAt()
	d := session.CreatedAt()
	exp := session.ExpDays()
	expAt := session.ExpiresAt()
	fmt.Println(s == nil, d.IsZero(), *exp, expAt == nil)

	mbps := session.DownMbits()
	useGlobal := session.UseGlobalSpeed()
	fmt.Println(mbps, session.UpMbits(), useGlobal)

	session.SetTimeSecs(3600)
	err := session.Save(ctx)
	fmt.Println(err)

	session.SetDataMb(1024)
	session.Save(ctx)
	session.SetTimeCons(1800)
	session.Save(ctx)
	session.SetDataCons(512)
	session.Save(ctx)
	session.SetStartedAt(time.Now())
	session.Save(ctx)
	session.SetExpDays(30)
	session.Save(ctx)
	session.SetDownMbits(10)
	session.Save(ctx)
	session.SetUpMbits(2)
	session.Save(ctx)
	session.SetUseGlobalSpeed(true)
	session.Save(ctx)
	session.Reload(ctx)

	fmt.Println(session.TimeSecs(), session.DataMb(), session.TimeConsumption(), session.DataConsumption())
	fmt.Println(session.StartedAt() != nil, session.ExpiresAt() != nil, session.UseGlobalSpeed())
	// Output:
	// coinslot 2 3600 500
	// 60 10 3540 490
	// true false 30 true
	// 10 2 false
	// <nil>
	// 3600 1024 1800 512
	// true true true
}
