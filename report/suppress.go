// Package report builds the anonymised summary of the register from raw
// counts: it decides which counts may be published and which must be
// hidden, so that no one in a small group can be singled out. It is pure:
// no I/O, no clock.
//
// The rules (DSR_SUPPRESS_BELOW is the threshold, 5 by default):
//
//   - Primary suppression: every count below the threshold is hidden
//     (published as null), zero included, since CONTRACT.md says every
//     count below it.
//   - Secondary suppression, for a breakdown whose cells add up to a
//     published total (people on the register by rating, by age band, by
//     locality; one month's rating changes by new rating): once any cell is
//     hidden, the hidden cells must be at least two and must add up to at
//     least the threshold, or the total minus the published cells would give
//     a hidden count away, or narrow it to a small number. While they do
//     not, the smallest published cell is hidden too (the first of equals,
//     in the breakdown's order). When no published cell is left the total is
//     hidden as well; with these rules that happens exactly when the total
//     itself is below the threshold, so a total shared by several
//     breakdowns is hidden in all of them or in none.
//   - Counts that do not add up to any published total (the needs of the
//     service-gap list, which one person may have several of; the status
//     counts, which mix a moment and a period) get primary suppression only.
package report

// Count is a published count: nil means hidden, and JSON writes null.
type Count = *int

func count(n int) Count { return &n }

// Primary hides a count standing alone: nil when it is below the threshold.
func Primary(n, threshold int) Count {
	if n < threshold {
		return nil
	}
	return count(n)
}

// Breakdown hides the counts of a breakdown whose cells add up to a
// published total, by the package's primary and secondary rules. It returns
// the cells in the same order, and the total.
func Breakdown(cells []int, threshold int) ([]Count, Count) {
	total := 0
	hidden := make([]bool, len(cells))
	hiddenCount, hiddenSum := 0, 0
	for i, n := range cells {
		total += n
		if n < threshold {
			hidden[i] = true
			hiddenCount++
			hiddenSum += n
		}
	}
	totalHidden := false
	for hiddenCount > 0 && (hiddenCount < 2 || hiddenSum < threshold) {
		next := -1
		for i, n := range cells {
			if !hidden[i] && (next < 0 || n < cells[next]) {
				next = i
			}
		}
		if next < 0 {
			totalHidden = true
			break
		}
		hidden[next] = true
		hiddenCount++
		hiddenSum += cells[next]
	}
	if total < threshold {
		totalHidden = true // also true of an empty breakdown
	}
	out := make([]Count, len(cells))
	for i, n := range cells {
		if !hidden[i] {
			out[i] = count(n)
		}
	}
	if totalHidden {
		return out, nil
	}
	return out, count(total)
}
