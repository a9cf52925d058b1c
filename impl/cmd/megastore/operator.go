package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/megastore-verified/megastore/impl/daemon"
	"github.com/megastore-verified/megastore/impl/siteconfig"
)

// cmdOperator applies an operator control (§4.9 [ours]) through the sites'
// HTTP ports:
//
//	megastore operator --config F coordinator-down c   every site refuses c's leases; c drops its own
//	megastore operator --config F coordinator-up c
//	megastore operator --config F drain c              c refuses client reads and writes
//	megastore operator --config F undrain c
//	megastore operator --config F show
func cmdOperator(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("operator", stderr)
	config := fs.String("config", "", "cluster.json (required)")
	timeout := fs.Duration("timeout", 5*time.Second, "per-site request timeout")
	if err := fs.Parse(args); err != nil {
		return usageErr("%v", err)
	}
	rest := fs.Args()
	if *config == "" || len(rest) == 0 {
		return usageErr("want --config F and one of: coordinator-down SITE, coordinator-up SITE, drain SITE, undrain SITE, show")
	}
	f, err := siteconfig.Load(*config)
	if err != nil {
		return err
	}
	hc := &http.Client{Timeout: *timeout}
	send := func(s siteconfig.Site, method, path string) (daemon.OperatorState, error) {
		var st daemon.OperatorState
		req, err := http.NewRequestWithContext(context.Background(), method, "http://"+s.HTTPAddr+path, nil)
		if err != nil {
			return st, err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return st, err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if resp.StatusCode != http.StatusOK {
			return st, fmt.Errorf("%s: %s", resp.Status, body)
		}
		return st, json.Unmarshal(body, &st)
	}
	show := func(st daemon.OperatorState) {
		fmt.Fprintf(stdout, "  site %s: drained=%v coordinator_down=%v lease_held=%v refuses_leases_of=%v\n",
			st.Site, st.Drained, st.CoordinatorDown, st.LeaseHeld, st.DownCoordinators)
	}
	verb := rest[0]
	switch verb {
	case "show":
		for _, s := range f.Sites {
			st, err := send(s, http.MethodGet, "/operator")
			if err != nil {
				fmt.Fprintf(stdout, "  site %s: unreachable: %v\n", s.ID, err)
				continue
			}
			show(st)
		}
		return nil
	case "coordinator-down", "coordinator-up", "drain", "undrain":
	default:
		return usageErr("unknown operator action %q", verb)
	}
	if len(rest) != 2 {
		return usageErr("%s needs one site", verb)
	}
	target, err := f.Site(rest[1])
	if err != nil {
		return err
	}
	switch verb {
	case "drain", "undrain":
		st, err := send(target, http.MethodPost, "/operator/drain?on="+fmt.Sprint(verb == "drain"))
		if err != nil {
			return fmt.Errorf("site %s: %w", target.ID, err)
		}
		show(st)
		return nil
	}
	// A coordinator's lease ends only when a majority of lease services
	// refuse it: tell every site, and say whether a majority heard.
	down := verb == "coordinator-down"
	path := "/operator/coordinator?site=" + url.QueryEscape(target.ID) + "&down=" + fmt.Sprint(down)
	told := 0
	for _, s := range f.Sites {
		st, err := send(s, http.MethodPost, path)
		if err != nil {
			fmt.Fprintf(stdout, "  site %s: not told: %v\n", s.ID, err)
			continue
		}
		told++
		show(st)
	}
	if told < len(f.Sites)/2+1 {
		return fmt.Errorf("only %d of %d sites were told: a majority must refuse %s's leases before writers stop waiting on it; run again when more answer", told, len(f.Sites), target.ID)
	}
	if down {
		fmt.Fprintf(stdout, "coordinator %s is down: it serves no local reads, and writers wait for it at most one lease more\n", target.ID)
	} else {
		fmt.Fprintf(stdout, "coordinator %s is up: it regains its lease in a new epoch and revalidates groups as it reads them\n", target.ID)
	}
	return nil
}
