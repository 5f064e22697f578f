package radsec

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// Files are the server's certificate chain, its private key and the CA
// bundle that signs the NASes' client certificates, all PEM.
type Files struct {
	Cert, Key, ClientCA string
}

// Certs holds what Files held when last loaded, and loads them again when
// Reload is called (SIGHUP) or when Check finds a file changed: a renewed
// certificate is taken without a restart, and a bad one is refused, the
// loaded ones staying in use.
type Certs struct {
	files Files
	mu    sync.Mutex
	cur   *Loaded
	stamp [3]stamp
}

// Loaded is one consistent load of Files.
type Loaded struct {
	Cert     tls.Certificate
	ClientCA *x509.CertPool
	// NotAfter is the server certificate's expiry (for the log).
	NotAfter time.Time
}

type stamp struct {
	mod  time.Time
	size int64
}

// NewCerts loads f; the error says which file is wrong and why.
func NewCerts(f Files) (*Certs, error) {
	c := &Certs{files: f}
	if _, err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Current returns the last good load.
func (c *Certs) Current() *Loaded {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur
}

// Reload loads the files again. On error the previous load stays current.
func (c *Certs) Reload() (*Loaded, error) {
	st := c.stamps()
	l, err := Load(c.files)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		// Remember the stamps all the same: Check would retry a broken file
		// on every handshake; the next change of it is tried again.
		c.stamp = st
		return c.cur, err
	}
	c.cur, c.stamp = l, st
	return l, nil
}

// Check reloads when a file's modification time or size changed since the
// last load. changed is true when it tried; err is the reload's.
func (c *Certs) Check() (changed bool, err error) {
	st := c.stamps()
	c.mu.Lock()
	same := st == c.stamp
	c.mu.Unlock()
	if same {
		return false, nil
	}
	_, err = c.Reload()
	return true, err
}

func (c *Certs) stamps() [3]stamp {
	var out [3]stamp
	for i, p := range []string{c.files.Cert, c.files.Key, c.files.ClientCA} {
		if fi, err := os.Stat(p); err == nil {
			out[i] = stamp{fi.ModTime(), fi.Size()}
		}
	}
	return out
}

// Load reads and checks f once.
func Load(f Files) (*Loaded, error) {
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("radsec: cert %s / key %s: %w", f.Cert, f.Key, err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("radsec: cert %s: %w", f.Cert, err)
	}
	pem, err := os.ReadFile(f.ClientCA)
	if err != nil {
		return nil, fmt.Errorf("radsec: client_ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("radsec: client_ca %s: %w", f.ClientCA, errNoPEM)
	}
	return &Loaded{Cert: cert, ClientCA: pool, NotAfter: leaf.NotAfter}, nil
}

var errNoPEM = errors.New("no PEM certificate in it")
