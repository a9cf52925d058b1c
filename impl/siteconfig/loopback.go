package siteconfig

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
)

// Loopback builds a config for sites on one loopback address with three
// free ports each (peer, client, http), as `make cluster` and the
// multi-process tests need. kinds maps each id, in order, to full, witness
// or readonly.
//
// NB: a port is free when chosen and may be taken before the process binds
// it; the process then fails at start with a clear "address in use". To
// make that unlikely when several clusters start at once (test packages run
// in parallel), each config takes its own random address in 127.0.0.0/8,
// where another process would have to pick the same address and port.
func Loopback(ids []string, kinds map[string]string) (*File, error) {
	f := &File{}
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	host := fmt.Sprintf("127.%d.%d.%d", 1+rand.IntN(254), rand.IntN(256), 1+rand.IntN(254))
	if l, err := net.Listen("tcp", host+":0"); err != nil {
		host = "127.0.0.1" // a kernel that binds only 127.0.0.1
	} else {
		l.Close()
	}
	free := func() (string, error) {
		// Hold every port until all are chosen, so no two sites share one.
		l, err := net.Listen("tcp", host+":0")
		if err != nil {
			return "", err
		}
		held = append(held, l)
		return l.Addr().String(), nil
	}
	for _, id := range ids {
		s := Site{ID: id, Kind: kinds[id]}
		var err error
		for _, addr := range []*string{&s.PeerAddr, &s.ClientAddr, &s.HTTPAddr} {
			if *addr, err = free(); err != nil {
				return nil, fmt.Errorf("choosing a free port: %w", err)
			}
		}
		f.Sites = append(f.Sites, s)
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return f, nil
}

// Write writes f as indented JSON to path.
func (f *File) Write(path string) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
