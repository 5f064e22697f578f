package main

import (
	"context"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/hotspot-radius/hsradius/radiusd/adminapi"
	"github.com/hotspot-radius/hsradius/radiusd/dashboard"
)

// Timeouts of the admin HTTP server. There is no write timeout: a PATCH
// waits for the NAS's CoA answers and pprof's profile runs for its seconds;
// the handlers bound their own waits.
const (
	adminReadHeaderTimeout = 5 * time.Second
	adminReadTimeout       = 30 * time.Second
	adminIdleTimeout       = 2 * time.Minute
)

// adminListener is the bound admin listener and its server (both nil when
// admin.listen is empty).
type adminListener struct {
	addr string // the bound address, "" when off
	ln   net.Listener
	srv  *http.Server
}

// startAdmin binds the admin listener (so that a busy port is reported at
// start, like the RADIUS ports) and builds its server; run serves it.
func startAdmin(cfg adminConfig, acfg adminapi.Config) (*adminListener, error) {
	if cfg.Listen == "" {
		return &adminListener{}, nil
	}
	acfg.Token, acfg.Pprof, acfg.AllowedHosts = cfg.Token, cfg.Pprof, cfg.AllowedHosts
	// The dashboard: its pages call this same API, signed in by a cookie
	// (README "Dashboard").
	dash, err := dashboard.New(dashboard.Config{Token: cfg.Token, Log: acfg.Log})
	if err != nil {
		return nil, err
	}
	acfg.UI, acfg.Browser = dash, dash
	h, err := adminapi.New(acfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("admin.listen: cannot listen on tcp %s: %w%s", cfg.Listen, err, bindHint(err))
	}
	return &adminListener{
		addr: ln.Addr().String(),
		ln:   ln,
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: adminReadHeaderTimeout,
			ReadTimeout:       adminReadTimeout,
			IdleTimeout:       adminIdleTimeout,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          stdlog.New(httpErrorLog{acfg.Log}, "", 0),
		},
	}, nil
}

// shutdown stops accepting and waits for running requests.
func (a *adminListener) shutdown(ctx context.Context) error {
	if a.srv == nil {
		return nil
	}
	return a.srv.Shutdown(ctx)
}

// close releases the listener when run returns before serving it.
func (a *adminListener) close() {
	if a.srv != nil {
		_ = a.srv.Close()
		_ = a.ln.Close()
	}
}

// httpErrorLog routes net/http's own messages (bad requests, panics) to
// zerolog.
type httpErrorLog struct{ log zerolog.Logger }

func (l httpErrorLog) Write(p []byte) (int, error) {
	l.log.Warn().Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}
