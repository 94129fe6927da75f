// Command genproducts writes a products CSV of any size to stdout, for
// measuring imports of large files without committing one:
//
//	go run ./domain/bulkimport/internal/genproducts -rows 1000000 > /tmp/products-1m.csv
//
// Row i has SKU "SKU-<i>", name "Product <i>", a price derived from i and
// -price-step (so a second file with another step updates every product
// it shares with the first), and a reorder level.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
)

func main() {
	rows := flag.Int("rows", 1_000_000, "data rows to write")
	first := flag.Int("first", 1, "number of the first SKU")
	step := flag.Int("price-step", 1, "price of row i is (i*step mod 100000) cents")
	flag.Parse()
	w := bufio.NewWriterSize(os.Stdout, 1<<16)
	fmt.Fprintln(w, "sku,name,price,reorder_level")
	for i := *first; i < *first+*rows; i++ {
		cents := i * *step % 100_000
		fmt.Fprintf(w, "SKU-%08d,Product %d,%d.%02d,%d\n", i, i, cents/100, cents%100, i%50)
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
