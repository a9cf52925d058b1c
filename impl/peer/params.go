package peer

import (
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// connectParams reconnects quickly: on loopback a restarted peer is back in
// well under a second, and every second without it is a second of writes
// waiting out its lease.
func connectParams() grpc.ConnectParams {
	return grpc.ConnectParams{
		Backoff: backoff.Config{
			BaseDelay:  backoffMin,
			Multiplier: 1.6,
			Jitter:     0.2,
			MaxDelay:   backoffMax,
		},
		MinConnectTimeout: time.Second,
	}
}
