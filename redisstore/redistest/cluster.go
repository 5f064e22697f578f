package redistest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster of masters without replicas, one redis-server
// process per master, started by a test.
type Cluster struct {
	Nodes []*Server
	t     testing.TB
}

// clusterNodeTimeout is cluster-node-timeout in milliseconds.
const clusterNodeTimeout = "5000"

// StartCluster starts masters (at least 3, as redis-cli --cluster create
// requires) cluster-enabled redis-servers on loopback, joins them with
// redis-cli --cluster create, waits until every node reports cluster_state:ok
// and stops them when the test ends. It skips the test when redis-server or
// redis-cli is missing (fails it when CI=true).
func StartCluster(t testing.TB, masters int) *Cluster {
	t.Helper()
	if masters < 3 {
		t.Fatalf("redistest: StartCluster(%d): redis-cli --cluster create needs at least 3 masters", masters)
	}
	bin := Binary(t)
	cli := CLI(t)
	begin := time.Now()
	c := &Cluster{t: t}
	for range masters {
		c.Nodes = append(c.Nodes, startClusterNode(t, bin))
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	started := time.Now()
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redistest: redis-cli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	created := time.Now()
	c.waitOK(ctx)
	t.Logf("redistest: %d-master cluster ready in %v (processes %v, redis-cli --cluster create %v, convergence %v)", masters,
		time.Since(begin).Round(time.Millisecond), started.Sub(begin).Round(time.Millisecond),
		created.Sub(started).Round(time.Millisecond), time.Since(created).Round(time.Millisecond))
	return c
}

// startClusterNode starts one cluster-enabled node. The cluster bus listens
// on the data port + 10000, so the data port must be at most 55535 and that
// bus port free too; a port taken between the check and the start makes the
// start fail and another pair is tried.
func startClusterNode(t testing.TB, bin string) *Server {
	t.Helper()
	s := &Server{t: t, Dir: t.TempDir(), args: []string{
		"--cluster-enabled", "yes",
		"--cluster-node-timeout", clusterNodeTimeout,
	}}
	// Relative to --dir; an absolute path keeps it unambiguous.
	s.args = append(s.args, "--cluster-config-file", filepath.Join(s.Dir, "nodes.conf"))
	var lastErr error
	for attempt := 0; attempt < 20; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("redistest: free port: %v", err)
		}
		if port > 55535 || !portFree(port+10000) {
			continue
		}
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if lastErr = s.start(bin); lastErr == nil {
			t.Cleanup(s.Stop)
			return s
		}
		_ = os.Remove(filepath.Join(s.Dir, "nodes.conf"))
	}
	t.Fatalf("redistest: no cluster node started after 20 attempts: %v", lastErr)
	return nil
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// waitOK polls CLUSTER INFO on every node until each reports
// cluster_state:ok, all 16384 slots assigned and every node known: the
// nodes converge over the cluster bus after redis-cli returns. Bounded by
// ctx (and at most 20 s).
func (c *Cluster) waitOK(ctx context.Context) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	want := []string{"cluster_state:ok", "cluster_slots_assigned:16384", "cluster_known_nodes:" + strconv.Itoa(len(c.Nodes))}
	for _, n := range c.Nodes {
		rdb := redis.NewClient(&redis.Options{Addr: n.Addr, MaxRetries: -1})
		last := ""
		for {
			info, err := rdb.ClusterInfo(ctx).Result()
			if err == nil && containsAll(info, want) {
				break
			}
			last = fmt.Sprint(info, err)
			select {
			case <-ctx.Done():
				_ = rdb.Close()
				c.t.Fatalf("redistest: cluster node %s not ok (want %v):\n%s", n.Addr, want, last)
			case <-time.After(20 * time.Millisecond): // an external system converging
			}
		}
		_ = rdb.Close()
	}
}

func containsAll(info string, lines []string) bool {
	have := map[string]bool{}
	for _, l := range strings.Split(info, "\n") {
		have[strings.TrimSpace(l)] = true
	}
	for _, l := range lines {
		if !have[l] {
			return false
		}
	}
	return true
}

// Addrs returns the nodes' host:port addresses.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Addr
	}
	return out
}

// FlushAll empties every master.
func (c *Cluster) FlushAll(ctx context.Context) error {
	for _, n := range c.Nodes {
		rdb := redis.NewClient(&redis.Options{Addr: n.Addr})
		err := rdb.FlushAll(ctx).Err()
		_ = rdb.Close()
		if err != nil {
			return fmt.Errorf("FLUSHALL on %s: %w", n.Addr, err)
		}
	}
	return nil
}

// CLI runs redis-cli -c (following redirections) against the first node
// and returns its trimmed output; a failure fails the test.
func (c *Cluster) CLI(args ...string) string {
	c.t.Helper()
	host, port, _ := net.SplitHostPort(c.Nodes[0].Addr)
	out, err := exec.Command(CLI(c.t), append([]string{"-c", "-h", host, "-p", port}, args...)...).CombinedOutput()
	if err != nil {
		c.t.Fatalf("redis-cli %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// CLI returns the path of redis-cli, or skips the test (fails it when
// CI=true).
func CLI(t testing.TB) string {
	t.Helper()
	return binary(t, "redis-cli")
}

// Sentinel is a redis-server in sentinel mode monitoring one master.
type Sentinel struct {
	*Server
	MasterName string
}

// StartSentinel starts a sentinel on a free loopback port that monitors
// master under the name name, with a quorum of 1, and stops it when the test
// ends. It returns once the sentinel logged that it monitors the master.
func StartSentinel(t testing.TB, name string, master *Server) *Sentinel {
	t.Helper()
	bin := Binary(t)
	host, mport, _ := net.SplitHostPort(master.Addr)
	dir := t.TempDir()
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("redistest: free port: %v", err)
		}
		conf := filepath.Join(dir, "sentinel.conf")
		text := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nlogfile \"\"\ndaemonize no\n"+
			"sentinel monitor %s %s %s 1\nsentinel down-after-milliseconds %s 5000\n", port, dir, name, host, mport, name)
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		s := &Server{t: t, Dir: dir, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
		cmd, done, err := launch(bin, []string{conf, "--sentinel"}, "+monitor master "+name)
		if err != nil {
			lastErr = err
			continue
		}
		s.cmd, s.done = cmd, done
		t.Cleanup(s.Stop)
		return &Sentinel{Server: s, MasterName: name}
	}
	t.Fatalf("redistest: sentinel: %v", lastErr)
	return nil
}

// launch starts bin with args and waits for a log line containing ready (a
// signal, not a sleep). Used for processes Server.start cannot run, such as
// a sentinel whose config file must be the first argument.
func launch(bin string, args []string, ready string) (*exec.Cmd, chan struct{}, error) {
	cmd := exec.Command(bin, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start %s: %w", bin, err)
	}
	readyc := make(chan error, 1)
	var (
		mu  sync.Mutex
		log strings.Builder
	)
	logged := func() string { mu.Lock(); defer mu.Unlock(); return log.String() }
	go func() {
		sc := bufio.NewScanner(out)
		signalled := false
		for sc.Scan() {
			if !signalled {
				mu.Lock()
				log.WriteString(sc.Text() + "\n")
				mu.Unlock()
				if strings.Contains(sc.Text(), ready) {
					signalled = true
					readyc <- nil
				}
			}
		}
		if !signalled {
			readyc <- fmt.Errorf("%s %v exited before %q:\n%s", bin, args, ready, logged())
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case err := <-readyc:
		if err != nil {
			<-done
			return nil, nil, err
		}
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		return nil, nil, fmt.Errorf("%s %v: no %q after 20s:\n%s", bin, args, ready, logged())
	}
	return cmd, done, nil
}
