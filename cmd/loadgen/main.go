package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := Run(ctx, cfg, stderr)
	if rep != nil {
		if cfg.JSON {
			if werr := rep.writeJSON(stdout); werr != nil {
				return werr
			}
		} else {
			rep.writeTable(stdout)
		}
	}
	if err != nil {
		return err
	}
	if !rep.Clean() {
		return errors.New("deliveries were lost, duplicated or misrouted (see the report)")
	}
	return nil
}
