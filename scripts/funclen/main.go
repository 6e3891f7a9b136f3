// Command funclen lists the longest functions of Go packages, longest
// first, with their lines (from the func keyword to the closing brace):
// evidence of where code decides and acts in the same breath, and a
// number to compare across commits.
//
//	go run ./scripts/funclen [-n 10] [-tests] DIR...
package main

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

func main() {
	n := flag.Int("n", 10, "how many functions to list")
	tests := flag.Bool("tests", false, "include _test.go files")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: go run ./scripts/funclen [-n 10] [-tests] DIR...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	type fn struct {
		name  string
		lines int
	}
	var all []fn
	fset := token.NewFileSet()
	for _, dir := range flag.Args() {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") && !*tests {
				continue
			}
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			for _, d := range f.Decls {
				fd, ok := d.(*ast.FuncDecl)
				if !ok || fd.Body == nil {
					continue
				}
				name := fd.Name.Name
				if fd.Recv != nil && len(fd.Recv.List) > 0 {
					name = fmt.Sprintf("(%s).%s", types(fd.Recv.List[0].Type), name)
				}
				lines := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1
				all = append(all, fn{filepath.Base(dir) + "." + name, lines})
			}
		}
	}
	slices.SortStableFunc(all, func(a, b fn) int { return b.lines - a.lines })
	for _, f := range all[:min(*n, len(all))] {
		fmt.Printf("%5d  %s\n", f.lines, f.name)
	}
}

// types names a receiver's type.
func types(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.StarExpr:
		return "*" + types(t.X)
	case *ast.Ident:
		return t.Name
	case *ast.IndexExpr:
		return types(t.X)
	}
	return "?"
}
