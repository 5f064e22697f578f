module github.com/hotspot-radius/hsradius

go 1.26.0

require (
	github.com/redis/go-redis/v9 v9.23.0
	layeh.com/radius v0.0.0-20231213012653-1006025d24f8
)

require (
	github.com/alicebob/miniredis/v2 v2.40.0 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/mattn/go-colorable v0.1.14 // indirect
	github.com/mattn/go-isatty v0.0.20 // indirect
	github.com/rs/zerolog v1.35.1 // indirect
	github.com/yuin/gopher-lua v1.1.1 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
)

tool layeh.com/radius/cmd/radius-dict-gen
