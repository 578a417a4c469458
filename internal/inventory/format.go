package inventory

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// WriteSummary prints, for each state, the count and the oldest age; the
// parked messages by reason, most first; and each list queue (qs may be
// nil: no -q).
func WriteSummary(out io.Writer, t *Tally, qs []Queue) error {
	w := &strings.Builder{}
	fmt.Fprintf(w, "%-9s %9s  %s\n", "STATE", "MESSAGES", "OLDEST")
	for _, s := range States() {
		fmt.Fprintf(w, "%-9s %9d  %s\n", s, t.Count[s], age(t.Count[s], t.Oldest[s]))
	}
	if len(t.Reasons) > 0 {
		fmt.Fprintf(w, "\nPARKED BY REASON\n")
		rs := make([]string, 0, len(t.Reasons))
		for r := range t.Reasons {
			rs = append(rs, r)
		}
		slices.SortFunc(rs, func(a, b string) int {
			if d := t.Reasons[b] - t.Reasons[a]; d != 0 {
				return d
			}
			return strings.Compare(a, b)
		})
		for _, r := range rs {
			fmt.Fprintf(w, "%9d  %s\n", t.Reasons[r], r)
		}
	}
	if qs != nil {
		fmt.Fprintf(w, "\n%-20s %9s  %s\n", "LIST", "WAITING", "OLDEST")
		for _, q := range qs {
			fmt.Fprintf(w, "%-20s %9d  %s\n", q.List, q.Waiting, age(q.Waiting, q.Oldest))
		}
	}
	_, err := io.WriteString(out, w.String())
	return err
}

func age(n int, d time.Duration) string {
	if n == 0 {
		return "-"
	}
	return strconv.FormatInt(seconds(d), 10) + "s (" + max(d, 0).Truncate(time.Second).String() + ")"
}

// seconds is an age in whole seconds; a file dated in the future (a clock
// set back) is 0 s old, not negative.
func seconds(d time.Duration) int64 { return max(int64(d/time.Second), 0) }

// WriteMetrics prints the tally (and the list queues, if qs is not nil)
// in the Prometheus text exposition format, as node_exporter's textfile
// collector reads it.
func WriteMetrics(w io.Writer, t *Tally, qs []Queue) error {
	b := &strings.Builder{}
	header(b, "mdpipe_messages", "Messages in the intake maildir, by state.")
	for _, s := range States() {
		fmt.Fprintf(b, "mdpipe_messages{state=%s} %d\n", label(s.String()), t.Count[s])
	}
	header(b, "mdpipe_oldest_seconds", "Age of the oldest message in each state, since its delivery; 0 when there is none.")
	for _, s := range States() {
		fmt.Fprintf(b, "mdpipe_oldest_seconds{state=%s} %d\n", label(s.String()), seconds(t.Oldest[s]))
	}
	if qs != nil {
		header(b, "mdpipe_queue_messages", "Messages handed off to a list and not yet taken by its list manager.")
		for _, q := range qs {
			fmt.Fprintf(b, "mdpipe_queue_messages{list=%s} %d\n", label(q.List), q.Waiting)
		}
		header(b, "mdpipe_queue_oldest_seconds", "Age of the oldest message waiting in a list's queue; 0 when there is none.")
		for _, q := range qs {
			fmt.Fprintf(b, "mdpipe_queue_oldest_seconds{list=%s} %d\n", label(q.List), seconds(q.Oldest))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func header(b *strings.Builder, name, help string) {
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name)
}

// label quotes a label value as the exposition format wants it: a
// backslash, a double quote and a newline escaped.
func label(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v) + `"`
}

// WriteListed prints the line of mdq -l for m: PATH STATE AGE REASON LIST
// RECIPIENT, and with verbose From, Subject and Message-ID, separated by
// TABs, "-" for what is not known.
func WriteListed(w io.Writer, m Message, d Details, verbose bool) {
	why := m.Reason
	if why == "" {
		why = "-"
	}
	fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s", m.Path, m.State, seconds(m.Age), why, d.List, d.Recipient)
	if verbose {
		fmt.Fprintf(w, "\t%s\t%s\t%s", d.From, d.Subject, d.MessageID)
	}
	fmt.Fprintln(w)
}
