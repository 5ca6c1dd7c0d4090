//! The formula parser: text to [`Formula`], with errors that point at the offending spot.
//!
//! # Grammar
//!
//! Operators, from the loosest binding to the tightest:
//!
//! | level | operators | grouping |
//! | --- | --- | --- |
//! | 1 | `a <-> b` | left: `a <-> b <-> c` is `(a <-> b) <-> c` |
//! | 2 | `a -> b` | right: `a -> b -> c` is `a -> (b -> c)` |
//! | 3 | `a \| b` | left |
//! | 4 | `a & b` | left |
//! | 5 | `a U b`, `a R b`, `a W b` | right, all three at one level: `a U b R c` is `a U (b R c)` |
//! | 6 | `!a`, `X a`, `F a`, `G a` | prefix, so `G p -> F q` is `(G p) -> (F q)` and `!p U q` is `(!p) U q` |
//!
//! This is the usual order of LTL tools (Spot, flloat): unary operators bind tightest, then the
//! binary temporal operators, then the Boolean connectives in the order of propositional logic.
//!
//! ```text
//! formula    = iff
//! iff        = implies { "<->" implies }
//! implies    = or [ "->" implies ]
//! or         = and { "|" and }
//! and        = temporal { "&" temporal }
//! temporal   = unary [ ("U" | "R" | "W") temporal ]
//! unary      = ("!" | "X" | "F" | "G") unary | primary
//! primary    = "true" | "false" | "(" formula ")" | atom
//! atom       = field [ cmp literal ] | literal cmp field
//! cmp        = "==" | "!=" | "<" | "<=" | ">" | ">="
//! literal    = number | string | "true" | "false"
//! field      = identifier | "`" any text "`"
//! identifier = [A-Za-z_][A-Za-z0-9_.]*   (not one of X F G U R W true false)
//! number     = ["-"] digits ["." digits] [("e" | "E") ["+" | "-"] digits]
//! string     = '"' chars '"'             (escapes: \" \\ \n \t \r \u{hex})
//! ```
//!
//! Identifiers are read whole, so `Fp` is a field named `Fp`; write `F p`. A field whose name is
//! a keyword or not an identifier is written in backticks: `` `X` ``, `` `queue depth` > 3 ``.
//! Only `==` and `!=` compare strings and booleans; the orderings need a number. A literal may
//! stand first (`50 < latency` reads as `latency > 50`). Whitespace is free.

use crate::model::decimal;

use super::syntax::{
    Atom, AtomTest, CompareOp, Formula, Literal, Precedence, is_right_associative,
};

/// The deepest formula (operators nested in operators, parentheses aside) the parser accepts,
/// and the deepest nesting of parentheses and prefix operators. Every later pass recurses over
/// the formula, so this bounds their stack use (about a kilobyte per level at worst, well under
/// a 2 MiB thread stack); no hand-written property comes near it.
pub const MAX_FORMULA_DEPTH: usize = 256;

/// A formula that could not be parsed: where, what was expected and what was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: expected {expected}, found {found}", self.location())]
pub struct ParseError {
    /// The whole formula, for rendering.
    pub formula: String,
    /// Byte offset of the offending spot in `formula`.
    pub offset: usize,
    /// Length in bytes of the offending token (0 at the end of input).
    pub len: usize,
    /// 1-based line of the offending spot.
    pub line: usize,
    /// 1-based column, in characters, of the offending spot within its line.
    pub column: usize,
    /// What the parser wanted there.
    pub expected: String,
    /// What it found instead.
    pub found: String,
}

impl ParseError {
    fn new(formula: &str, offset: usize, len: usize, expected: &str, found: String) -> Self {
        let before = &formula[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = formula[line_start..offset].chars().count() + 1;
        ParseError {
            formula: formula.to_string(),
            offset,
            len,
            line,
            column,
            expected: expected.to_string(),
            found,
        }
    }

    fn location(&self) -> String {
        if self.formula.contains('\n') {
            format!("line {}, column {}", self.line, self.column)
        } else {
            format!("column {}", self.column)
        }
    }

    /// The message with the formula's offending line and a caret under the offending spot:
    ///
    /// ```text
    /// error at column 7: expected a formula, found `)`
    ///   G(p & )
    ///         ^
    /// ```
    pub fn render(&self) -> String {
        let line_start = self.formula[..self.offset].rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.formula[self.offset..]
            .find('\n')
            .map_or(self.formula.len(), |i| self.offset + i);
        let line = &self.formula[line_start..line_end];
        // Keep tabs so the caret lines up under the same tab stops.
        let pad: String = self.formula[line_start..self.offset]
            .chars()
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let token_end = (self.offset + self.len).min(line_end);
        let width = self.formula[self.offset..token_end].chars().count().max(1);
        format!("error at {self}\n  {line}\n  {pad}{}", "^".repeat(width))
    }
}

/// Parses a formula. See the module documentation for the grammar.
pub fn parse(text: &str) -> Result<Formula, ParseError> {
    let tokens = lex(text)?;
    let mut parser = Parser {
        text,
        tokens,
        pos: 0,
        nesting: 0,
    };
    let (formula, _) = parser.expression(Precedence::Iff)?;
    let token = parser.peek();
    if token.kind != TokenKind::End {
        return Err(parser.error_at(
            token,
            "an operator (`& | -> <-> U R W`) or the end of the formula",
        ));
    }
    Ok(formula)
}

#[derive(Debug, Clone, PartialEq)]
enum TokenKind {
    Field(String),
    Number(f64),
    Text(String),
    True,
    False,
    Not,
    And,
    Or,
    Implies,
    Iff,
    Next,
    Eventually,
    Always,
    Until,
    Release,
    WeakUntil,
    Compare(CompareOp),
    LParen,
    RParen,
    End,
}

#[derive(Debug, Clone)]
struct Token {
    kind: TokenKind,
    start: usize,
    end: usize,
}

fn describe(text: &str, token: &Token) -> String {
    match &token.kind {
        TokenKind::End => "the end of the formula".to_string(),
        TokenKind::Field(name) => format!("field `{name}`"),
        TokenKind::Number(_) => format!("number `{}`", &text[token.start..token.end]),
        TokenKind::Text(_) => format!("string {}", &text[token.start..token.end]),
        _ => format!("`{}`", &text[token.start..token.end]),
    }
}

fn lex(text: &str) -> Result<Vec<Token>, ParseError> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    let err = |at: usize, len: usize, expected: &str, found: String| {
        Err(ParseError::new(text, at, len, expected, found))
    };
    while i < bytes.len() {
        let start = i;
        let c = bytes[i];
        let next = bytes.get(i + 1).copied();
        let kind = match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'(' => {
                i += 1;
                TokenKind::LParen
            }
            b')' => {
                i += 1;
                TokenKind::RParen
            }
            b'&' => {
                i += 1;
                TokenKind::And
            }
            b'|' => {
                i += 1;
                TokenKind::Or
            }
            b'!' if next == Some(b'=') => {
                i += 2;
                TokenKind::Compare(CompareOp::Ne)
            }
            b'!' => {
                i += 1;
                TokenKind::Not
            }
            b'=' if next == Some(b'=') => {
                i += 2;
                TokenKind::Compare(CompareOp::Eq)
            }
            b'=' => {
                return err(
                    start,
                    1,
                    "`==` (equality) or `->` (implication)",
                    "`=`".into(),
                );
            }
            b'<' if next == Some(b'-') && bytes.get(i + 2) == Some(&b'>') => {
                i += 3;
                TokenKind::Iff
            }
            b'<' if next == Some(b'=') => {
                i += 2;
                TokenKind::Compare(CompareOp::Le)
            }
            b'<' => {
                i += 1;
                TokenKind::Compare(CompareOp::Lt)
            }
            b'>' if next == Some(b'=') => {
                i += 2;
                TokenKind::Compare(CompareOp::Ge)
            }
            b'>' => {
                i += 1;
                TokenKind::Compare(CompareOp::Gt)
            }
            b'-' if next == Some(b'>') => {
                i += 2;
                TokenKind::Implies
            }
            b'-' | b'0'..=b'9' => {
                let (value, end) = lex_number(text, start)?;
                i = end;
                TokenKind::Number(value)
            }
            b'"' => {
                let (value, end) = lex_quoted(text, start, '"')?;
                i = end;
                TokenKind::Text(value)
            }
            b'`' => {
                let (name, end) = lex_quoted(text, start, '`')?;
                if name.is_empty() {
                    return err(
                        start,
                        end - start,
                        "a field name between the backticks",
                        "``".into(),
                    );
                }
                i = end;
                TokenKind::Field(name)
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'.')
                {
                    i += 1;
                }
                match &text[start..i] {
                    "X" => TokenKind::Next,
                    "F" => TokenKind::Eventually,
                    "G" => TokenKind::Always,
                    "U" => TokenKind::Until,
                    "R" => TokenKind::Release,
                    "W" => TokenKind::WeakUntil,
                    "true" => TokenKind::True,
                    "false" => TokenKind::False,
                    name => TokenKind::Field(name.to_string()),
                }
            }
            _ => {
                let ch = text[start..].chars().next().unwrap_or('?');
                return err(
                    start,
                    ch.len_utf8(),
                    "a formula: a field, a comparison, `true`, `false`, `(` or an operator",
                    format!("`{ch}`"),
                );
            }
        };
        tokens.push(Token {
            kind,
            start,
            end: i,
        });
    }
    tokens.push(Token {
        kind: TokenKind::End,
        start: text.len(),
        end: text.len(),
    });
    Ok(tokens)
}

/// Reads a number starting at `start` (a digit or a minus sign); returns it and its end.
fn lex_number(text: &str, start: usize) -> Result<(f64, usize), ParseError> {
    let bytes = text.as_bytes();
    let mut i = start;
    let digits = |i: &mut usize| {
        let from = *i;
        while *i < bytes.len() && bytes[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > from
    };
    if bytes[i] == b'-' {
        i += 1;
    }
    if !digits(&mut i) {
        let next = text[i..].chars().next();
        let found = next.map_or("the end of the formula".to_string(), |c| format!("`{c}`"));
        // The `-` and the character after it, whole (it may take several bytes).
        return Err(ParseError::new(
            text,
            start,
            i - start + next.map_or(0, char::len_utf8),
            "a digit after `-` (or `->` for implication)",
            found,
        ));
    }
    if i < bytes.len() && bytes[i] == b'.' {
        i += 1;
        if !digits(&mut i) {
            return Err(ParseError::new(
                text,
                start,
                i - start,
                "digits after the decimal point",
                format!("`{}`", &text[start..i]),
            ));
        }
    }
    if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
        let mut j = i + 1;
        if j < bytes.len() && (bytes[j] == b'+' || bytes[j] == b'-') {
            j += 1;
        }
        if digits(&mut j) {
            i = j;
        }
    }
    let literal = &text[start..i];
    match decimal::parse_decimal(literal) {
        // Fold -0 into 0 so literals compare and hash by value.
        Some(value) if value.is_finite() => Ok((if value == 0.0 { 0.0 } else { value }, i)),
        _ => Err(ParseError::new(
            text,
            start,
            i - start,
            "a finite number",
            format!("`{literal}`"),
        )),
    }
}

/// Reads a string (`"…"`) or a quoted field name (`` `…` ``) starting at its opening quote.
fn lex_quoted(text: &str, start: usize, quote: char) -> Result<(String, usize), ParseError> {
    let mut value = String::new();
    let mut chars = text[start + 1..]
        .char_indices()
        .map(|(k, c)| (start + 1 + k, c));
    while let Some((at, c)) = chars.next() {
        match c {
            c if c == quote => return Ok((value, at + 1)),
            '\\' => {
                let Some((_, escaped)) = chars.next() else {
                    break;
                };
                match escaped {
                    'n' => value.push('\n'),
                    't' => value.push('\t'),
                    'r' => value.push('\r'),
                    '\\' => value.push('\\'),
                    c if c == quote => value.push(c),
                    'u' => {
                        let rest = &text[at + 2..];
                        let code = rest
                            .strip_prefix('{')
                            .and_then(|r| r.find('}').map(|close| &r[..close]))
                            .and_then(|hex| {
                                u32::from_str_radix(hex, 16).ok().map(|n| (n, hex.len()))
                            })
                            .and_then(|(n, len)| char::from_u32(n).map(|c| (c, len)));
                        let Some((ch, hex_len)) = code else {
                            return Err(ParseError::new(
                                text,
                                at,
                                2,
                                "a Unicode escape like `\\u{e9}`",
                                format!("`{}`", &text[at..(at + 2).min(text.len())]),
                            ));
                        };
                        value.push(ch);
                        // Skip `{`, the hex digits and `}`.
                        for _ in 0..hex_len + 2 {
                            chars.next();
                        }
                    }
                    other => {
                        let quote_escape = format!("\\{quote}");
                        let expected =
                            format!("an escape: {quote_escape} \\\\ \\n \\t \\r or \\u{{…}}");
                        return Err(ParseError::new(
                            text,
                            at,
                            1 + other.len_utf8(),
                            &expected,
                            format!("`\\{other}`"),
                        ));
                    }
                }
            }
            c => value.push(c),
        }
    }
    let what = if quote == '"' { "string" } else { "field name" };
    Err(ParseError::new(
        text,
        start,
        1,
        &format!("a closing {quote} for the {what} that starts here"),
        "the end of the formula".to_string(),
    ))
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    /// Current nesting of parentheses and prefix operators.
    nesting: usize,
}

/// Builds a formula node from its operand(s).
type UnaryMaker = fn(Box<Formula>) -> Formula;
type BinaryMaker = fn(Box<Formula>, Box<Formula>) -> Formula;

/// A parsed subformula with its depth, kept alongside so that no pass has to recurse to learn it.
type Parsed = (Formula, usize);

impl Parser<'_> {
    fn peek(&self) -> &Token {
        // `lex` always ends the list with `End`, and `advance` never moves past it.
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if token.kind != TokenKind::End {
            self.pos += 1;
        }
        token
    }

    fn error_at(&self, token: &Token, expected: &str) -> ParseError {
        ParseError::new(
            self.text,
            token.start,
            token.end - token.start,
            expected,
            describe(self.text, token),
        )
    }

    /// Precedence climbing (Pratt): binary operators of level `min` or tighter.
    fn expression(&mut self, min: Precedence) -> Result<Parsed, ParseError> {
        let mut left = self.unary()?;
        loop {
            let (level, make): (Precedence, BinaryMaker) = match self.peek().kind {
                TokenKind::Iff => (Precedence::Iff, Formula::Iff),
                TokenKind::Implies => (Precedence::Implies, Formula::Implies),
                TokenKind::Or => (Precedence::Or, Formula::Or),
                TokenKind::And => (Precedence::And, Formula::And),
                TokenKind::Until => (Precedence::Temporal, Formula::Until),
                TokenKind::Release => (Precedence::Temporal, Formula::Release),
                TokenKind::WeakUntil => (Precedence::Temporal, Formula::WeakUntil),
                _ => break,
            };
            if level < min {
                break;
            }
            let op = self.advance();
            // A right-associative operator takes a right operand of its own level; a
            // left-associative one only tighter operators, and the loop gathers the rest.
            let right_min = if is_right_associative(level) {
                level
            } else {
                level.tighter()
            };
            self.enter(&op)?;
            let right = self.expression(right_min)?;
            self.nesting -= 1;
            let depth = 1 + left.1.max(right.1);
            if depth > MAX_FORMULA_DEPTH {
                return Err(self.too_deep(&op));
            }
            left = (make(Box::new(left.0), Box::new(right.0)), depth);
        }
        Ok(left)
    }

    fn too_deep(&self, at: &Token) -> ParseError {
        ParseError::new(
            self.text,
            at.start,
            at.end - at.start,
            &format!("a formula at most {MAX_FORMULA_DEPTH} operators deep"),
            "deeper nesting".to_string(),
        )
    }

    /// Prefix operators (gathered in a loop, not by recursion), then a primary.
    fn unary(&mut self) -> Result<Parsed, ParseError> {
        let mut prefixes: Vec<(Token, UnaryMaker)> = Vec::new();
        loop {
            let make: fn(Box<Formula>) -> Formula = match self.peek().kind {
                TokenKind::Not => Formula::Not,
                TokenKind::Next => Formula::Next,
                TokenKind::Eventually => Formula::Eventually,
                TokenKind::Always => Formula::Always,
                _ => break,
            };
            let op = self.advance();
            if prefixes.len() >= MAX_FORMULA_DEPTH {
                return Err(self.too_deep(&op));
            }
            prefixes.push((op, make));
        }
        let (mut formula, mut depth) = self.primary()?;
        for (op, make) in prefixes.into_iter().rev() {
            depth += 1;
            if depth > MAX_FORMULA_DEPTH {
                return Err(self.too_deep(&op));
            }
            formula = make(Box::new(formula));
        }
        Ok((formula, depth))
    }

    fn enter(&mut self, at: &Token) -> Result<(), ParseError> {
        self.nesting += 1;
        if self.nesting > MAX_FORMULA_DEPTH {
            return Err(self.too_deep(at));
        }
        Ok(())
    }

    fn primary(&mut self) -> Result<Parsed, ParseError> {
        let token = self.advance();
        match token.kind {
            TokenKind::LParen => {
                self.enter(&token)?;
                let inner = self.expression(Precedence::Iff)?;
                self.nesting -= 1;
                let close = self.advance();
                if close.kind != TokenKind::RParen {
                    let place =
                        ParseError::new(self.text, token.start, 1, "", String::new()).location();
                    return Err(self.error_at(
                        &close,
                        &format!("an operator or `)` to close the `(` at {place}"),
                    ));
                }
                Ok(inner)
            }
            TokenKind::True | TokenKind::False if !self.at_compare() => {
                let formula = if token.kind == TokenKind::True {
                    Formula::True
                } else {
                    Formula::False
                };
                Ok((formula, 0))
            }
            TokenKind::Field(field) => {
                if !self.at_compare() {
                    return Ok((
                        Formula::Atom(Atom {
                            field,
                            test: AtomTest::Truthy,
                        }),
                        0,
                    ));
                }
                let op = self.compare_op();
                let value = self.literal(op)?;
                Ok((
                    Formula::Atom(Atom {
                        field,
                        test: AtomTest::Compare { op, value },
                    }),
                    0,
                ))
            }
            TokenKind::Number(_) | TokenKind::Text(_) | TokenKind::True | TokenKind::False => {
                let value = match token.kind {
                    TokenKind::Number(x) => Literal::Number(x),
                    TokenKind::Text(s) => Literal::Text(s),
                    TokenKind::True => Literal::Bool(true),
                    _ => Literal::Bool(false),
                };
                if !self.at_compare() {
                    let next = self.peek().clone();
                    return Err(self.error_at(
                        &next,
                        "a comparison operator (`== != < <= > >=`) after a literal",
                    ));
                }
                let op = self.compare_op();
                check_literal_for(self.text, op, &value, token.start, token.end)?;
                let field_token = self.advance();
                let TokenKind::Field(field) = field_token.kind else {
                    return Err(self.error_at(&field_token, "a field name after the comparison"));
                };
                Ok((
                    Formula::Atom(Atom {
                        field,
                        test: AtomTest::Compare {
                            op: op.swapped(),
                            value,
                        },
                    }),
                    0,
                ))
            }
            _ => {
                let expected = if matches!(token.kind, TokenKind::And | TokenKind::Or)
                    && self.pos >= 2
                    && self.tokens[self.pos - 2].kind == token.kind
                    && self.tokens[self.pos - 2].end == token.start
                {
                    "a formula (`&` and `|` are written single, not doubled)"
                } else {
                    "a formula: a field, a comparison, `true`, `false`, `(`, or `! X F G`"
                };
                Err(self.error_at(&token, expected))
            }
        }
    }

    fn at_compare(&self) -> bool {
        matches!(self.peek().kind, TokenKind::Compare(_))
    }

    fn compare_op(&mut self) -> CompareOp {
        match self.advance().kind {
            TokenKind::Compare(op) => op,
            // Callers check `at_compare` first.
            _ => CompareOp::Eq,
        }
    }

    fn literal(&mut self, op: CompareOp) -> Result<Literal, ParseError> {
        let token = self.advance();
        let value = match token.kind {
            TokenKind::Number(x) => Literal::Number(x),
            TokenKind::Text(ref s) => Literal::Text(s.clone()),
            TokenKind::True => Literal::Bool(true),
            TokenKind::False => Literal::Bool(false),
            _ => {
                let expected = if op.is_ordering() {
                    format!("a number after `{}`", op.symbol())
                } else {
                    format!(
                        "a number, a quoted string, `true` or `false` after `{}`",
                        op.symbol()
                    )
                };
                return Err(self.error_at(&token, &expected));
            }
        };
        check_literal_for(self.text, op, &value, token.start, token.end)?;
        Ok(value)
    }
}

/// Orderings (`< <= > >=`) compare numbers only.
fn check_literal_for(
    text: &str,
    op: CompareOp,
    value: &Literal,
    start: usize,
    end: usize,
) -> Result<(), ParseError> {
    if op.is_ordering() && !matches!(value, Literal::Number(_)) {
        return Err(ParseError::new(
            text,
            start,
            end - start,
            &format!(
                "a number to compare with `{}` (strings and booleans take only `==` and `!=`)",
                op.symbol()
            ),
            format!("`{}`", &text[start..end]),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Formula {
        match parse(text) {
            Ok(f) => f,
            Err(e) => panic!("{}", e.render()),
        }
    }

    fn err(text: &str) -> ParseError {
        match parse(text) {
            Ok(f) => panic!("{text:?} parsed as {f}"),
            Err(e) => e,
        }
    }

    #[test]
    fn precedence_and_associativity() {
        let cases = [
            ("G p -> F q", "G p -> F q", "(G p) -> (F q)"),
            ("!p U q", "!p U q", "(!p) U q"),
            ("a | b & c", "a | b & c", "a | (b & c)"),
            ("a & b | c", "a & b | c", "(a & b) | c"),
            ("a -> b -> c", "a -> b -> c", "a -> (b -> c)"),
            ("a <-> b <-> c", "a <-> b <-> c", "(a <-> b) <-> c"),
            ("a -> b <-> c", "a -> b <-> c", "(a -> b) <-> c"),
            ("a | b -> c", "a | b -> c", "(a | b) -> c"),
            ("a U b U c", "a U b U c", "a U (b U c)"),
            ("a U b R c W d", "a U b R c W d", "a U (b R (c W d))"),
            ("a & b U c", "a & b U c", "a & (b U c)"),
            ("X a U b", "X a U b", "(X a) U b"),
            ("F G a & b", "F G a & b", "(F (G a)) & b"),
        ];
        for (text, printed, explicit) in cases {
            assert_eq!(p(text).to_string(), printed, "{text}");
            assert_eq!(p(text), p(explicit), "{text} vs {explicit}");
        }
        assert_ne!(p("a U b U c"), p("(a U b) U c"));
        assert_ne!(p("a -> b -> c"), p("(a -> b) -> c"));
    }

    #[test]
    fn atoms_and_comparisons() {
        let f = p(r#"latency > 50 & status == "ok" & queue_depth <= 3 & x != -2.5e1"#);
        let mut atoms = Vec::new();
        f.for_each_atom(&mut |a| atoms.push(a.clone()));
        assert_eq!(atoms.len(), 4);
        assert_eq!(
            atoms[0].test,
            AtomTest::Compare {
                op: CompareOp::Gt,
                value: Literal::Number(50.0)
            }
        );
        assert_eq!(
            atoms[1].test,
            AtomTest::Compare {
                op: CompareOp::Eq,
                value: Literal::Text("ok".into())
            }
        );
        assert_eq!(
            atoms[3].test,
            AtomTest::Compare {
                op: CompareOp::Ne,
                value: Literal::Number(-25.0)
            }
        );
        // A literal first is the same atom with the operator turned round.
        assert_eq!(p("50 < latency"), p("latency > 50"));
        assert_eq!(p("3 >= q"), p("q <= 3"));
        assert_eq!(p("x<-3"), p("x < -3"));
        assert_eq!(p("done == true"), p("true == done"));
        assert_eq!(p("Fp").to_string(), "Fp");
        assert_eq!(
            p("`X` & `queue depth` > 1").to_string(),
            "`X` & `queue depth` > 1"
        );
        assert_eq!(p(r#"s == "\u{e9}\"\\""#).to_string(), r#"s == "é\"\\""#);
        assert_eq!(p("x == -0"), p("x == 0"));
        assert_eq!(p("true"), Formula::True);
        assert_eq!(p("(false)"), Formula::False);
    }

    #[test]
    fn errors_point_at_the_spot() {
        let e = err("G(p & )");
        assert_eq!((e.offset, e.column), (6, 7));
        assert!(e.expected.starts_with("a formula"), "{e}");
        assert_eq!(e.found, "`)`");
        assert_eq!(
            e.render(),
            "error at column 7: expected a formula: a field, a comparison, `true`, `false`, `(`, or `! X F G`, found `)`\n  G(p & )\n        ^"
        );

        let e = err("(p U q");
        assert_eq!(e.column, 7);
        assert!(e.expected.contains("close the `(` at column 1"), "{e}");
        assert_eq!(e.found, "the end of the formula");

        let e = err("p q");
        assert_eq!(e.column, 3);
        assert_eq!(e.found, "field `q`");

        let e = err("latency > fast");
        assert_eq!(e.column, 11);
        assert!(e.expected.contains("a number after `>`"), "{e}");
        assert!(
            e.render().ends_with("\n  latency > fast\n            ^^^^"),
            "{}",
            e.render()
        );

        let e = err(r#"status < "ok""#);
        assert_eq!(e.column, 10);
        assert!(e.expected.contains("strings and booleans take only"), "{e}");

        let e = err("a = 3");
        assert_eq!((e.column, e.found.as_str()), (3, "`=`"));

        let e = err("p && q");
        assert_eq!(e.column, 4);
        assert!(e.expected.contains("written single"), "{e}");

        let e = err(r#"s == "open"#);
        assert_eq!(e.column, 6);
        assert!(e.expected.contains("closing \""), "{e}");

        let e = err("p $ q");
        assert_eq!((e.column, e.found.as_str()), (3, "`$`"));

        let e = err("x > 1e999");
        assert!(e.expected.contains("finite"), "{e}");

        let e = err("");
        assert_eq!((e.column, e.found.as_str()), (1, "the end of the formula"));

        let e = err("p ->\n  `é` & )");
        assert_eq!((e.line, e.column, e.offset), (2, 9, 14));
        assert!(e.to_string().starts_with("line 2, column 9"), "{e}");
        assert!(
            e.render().ends_with("\n    `é` & )\n          ^"),
            "{}",
            e.render()
        );
        let e = err("p & é");
        assert_eq!((e.column, e.found.as_str()), (5, "`é`"));

        let e = err("x > 5 5");
        assert_eq!(e.column, 7);
        let e = err("5");
        assert!(e.expected.contains("comparison operator"), "{e}");
        let e = err("``");
        assert!(e.expected.contains("field name"), "{e}");
        let e = err(r#"s == "\q""#);
        assert_eq!(e.found, "`\\q`");
    }

    #[test]
    fn depth_is_limited_without_overflowing_the_stack() {
        let deep_parens = format!("{}p{}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(err(&deep_parens).expected.contains("deep"));
        let deep_not = format!("{}p", "!".repeat(100_000));
        assert!(err(&deep_not).expected.contains("deep"));
        let long_chain = vec!["p"; 100_000].join(" & ");
        assert!(err(&long_chain).expected.contains("deep"));
        let long_implies = vec!["p"; 100_000].join(" -> ");
        assert!(err(&long_implies).expected.contains("deep"));
        let fine = vec!["p"; MAX_FORMULA_DEPTH + 1].join(" & ");
        assert_eq!(p(&fine).depth(), MAX_FORMULA_DEPTH);
    }

    /// Found by the `ltl_parser` fuzz target (fuzz/seeds/ltl_parser/crash-2f7c4b54…, minimised
    /// to `-\u{8b}`): the error of a `-` before a character of several bytes covered only its
    /// first byte, and rendering it sliced the formula inside that character.
    #[test]
    fn a_minus_before_a_multibyte_character_renders() {
        let e = err("-\u{8b}");
        assert_eq!((e.offset, e.len), (0, 3));
        assert_eq!(e.found, "`\u{8b}`");
        assert!(e.render().ends_with("\n  ^^"), "{}", e.render());
        let e = err("x < -é & y");
        assert_eq!((e.offset, e.len, e.column), (4, 3, 5));
        assert!(e.render().ends_with("\n      ^^"), "{}", e.render());
        let e = err("x < -");
        assert_eq!((e.offset, e.len), (4, 1));
        assert!(e.render().ends_with("\n      ^"), "{}", e.render());
    }
}
