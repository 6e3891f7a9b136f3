package mathexpr

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// node is a parsed expression.
type node interface{}

type (
	numNode float64
	strNode string
	idNode  string
	unary   struct {
		op string
		x  node
	}
	binary struct {
		op   string
		l, r node
	}
	callNode struct {
		fn   string
		args []node
	}
	arrayNode []node
)

type token struct {
	kind string // num, id, str, op, end
	text string
}

func lex(s string) ([]token, error) {
	var out []token
	i := 0
	for i < len(s) {
		c := rune(s[i])
		switch {
		case unicode.IsSpace(c):
			i++
		case unicode.IsDigit(c) || c == '.':
			j := i
			for j < len(s) && (unicode.IsDigit(rune(s[j])) || s[j] == '.' || s[j] == 'e' || s[j] == 'E' ||
				((s[j] == '-' || s[j] == '+') && j > i && (s[j-1] == 'e' || s[j-1] == 'E'))) {
				j++
			}
			out = append(out, token{"num", s[i:j]})
			i = j
		case unicode.IsLetter(c) || c == '_':
			j := i
			for j < len(s) && (unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j])) || s[j] == '_') {
				j++
			}
			out = append(out, token{"id", s[i:j]})
			i = j
		case c == '"' || c == '\'':
			j := strings.IndexRune(s[i+1:], c)
			if j < 0 {
				return nil, fmt.Errorf("unterminated string at position %d", i)
			}
			out = append(out, token{"str", s[i+1 : i+1+j]})
			i += j + 2
		default:
			for _, op := range []string{"<=", ">=", "==", "!=", "&&", "||", "+", "-", "*", "/", "^", "(", ")", "[", "]", ",", "<", ">", "!"} {
				if strings.HasPrefix(s[i:], op) {
					out = append(out, token{"op", op})
					i += len(op)
					goto next
				}
			}
			return nil, fmt.Errorf("unexpected character %q at position %d", c, i)
		next:
		}
	}
	return append(out, token{"end", ""}), nil
}

type parser struct {
	toks []token
	pos  int
}

// Parse parses an expression.
func Parse(s string) (node, error) {
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	n, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if p.peek().kind != "end" {
		return nil, fmt.Errorf("unexpected %q", p.peek().text)
	}
	return n, nil
}

func (p *parser) peek() token { return p.toks[p.pos] }
func (p *parser) next() token { t := p.toks[p.pos]; p.pos++; return t }

// precedence climbs from OR (lowest) to ^ (highest).
var precedence = map[string]int{
	"OR": 1, "||": 1, "AND": 2, "&&": 2,
	"==": 3, "!=": 3, "<": 4, "<=": 4, ">": 4, ">=": 4,
	"+": 5, "-": 5, "*": 6, "/": 6, "^": 7,
}

func binaryOp(t token) (string, bool) {
	op := t.text
	if t.kind == "id" {
		op = strings.ToUpper(op)
		if op != "AND" && op != "OR" {
			return "", false
		}
	} else if t.kind != "op" {
		return "", false
	}
	_, ok := precedence[op]
	return op, ok
}

func (p *parser) expr(min int) (node, error) {
	left, err := p.unaryExpr()
	if err != nil {
		return nil, err
	}
	for {
		op, ok := binaryOp(p.peek())
		if !ok || precedence[op] < min {
			return left, nil
		}
		p.next()
		nextMin := precedence[op] + 1
		if op == "^" {
			nextMin = precedence[op] // right-associative
		}
		right, err := p.expr(nextMin)
		if err != nil {
			return nil, err
		}
		left = binary{op, left, right}
	}
}

func (p *parser) unaryExpr() (node, error) {
	t := p.peek()
	if (t.kind == "op" && (t.text == "-" || t.text == "!")) || (t.kind == "id" && strings.ToUpper(t.text) == "NOT") {
		p.next()
		x, err := p.unaryExpr()
		if err != nil {
			return nil, err
		}
		op := t.text
		if op != "-" {
			op = "NOT"
		}
		return unary{op, x}, nil
	}
	return p.primary()
}

func (p *parser) primary() (node, error) {
	t := p.next()
	switch t.kind {
	case "num":
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, fmt.Errorf("bad number %q", t.text)
		}
		return numNode(f), nil
	case "str":
		return strNode(t.text), nil
	case "id":
		if p.peek().text == "(" {
			p.next()
			var args []node
			for p.peek().text != ")" {
				a, err := p.expr(0)
				if err != nil {
					return nil, err
				}
				args = append(args, a)
				if p.peek().text == "," {
					p.next()
				} else if p.peek().text != ")" {
					return nil, fmt.Errorf("expected , or ) in call to %s", t.text)
				}
			}
			p.next()
			return callNode{strings.ToUpper(t.text), args}, nil
		}
		return idNode(t.text), nil
	case "op":
		switch t.text {
		case "(":
			n, err := p.expr(0)
			if err != nil {
				return nil, err
			}
			if p.next().text != ")" {
				return nil, fmt.Errorf("missing )")
			}
			return n, nil
		case "[":
			var items arrayNode
			for p.peek().text != "]" {
				a, err := p.expr(0)
				if err != nil {
					return nil, err
				}
				items = append(items, a)
				if p.peek().text == "," {
					p.next()
				} else if p.peek().text != "]" {
					return nil, fmt.Errorf("expected , or ] in array")
				}
			}
			p.next()
			return items, nil
		}
	}
	if t.kind == "end" {
		return nil, fmt.Errorf("unexpected end of expression")
	}
	return nil, fmt.Errorf("unexpected %q", t.text)
}

// Refs lists the query ids an expression refers to.
func Refs(n node) []string {
	var out []string
	var walk func(node)
	walk = func(n node) {
		switch x := n.(type) {
		case idNode:
			out = append(out, string(x))
		case unary:
			walk(x.x)
		case binary:
			walk(x.l)
			walk(x.r)
		case callNode:
			for _, a := range x.args {
				walk(a)
			}
		case arrayNode:
			for _, a := range x {
				walk(a)
			}
		}
	}
	walk(n)
	return out
}
