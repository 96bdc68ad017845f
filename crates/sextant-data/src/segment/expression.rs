//! The segment expression language: its parser, its type check against a table's columns, and
//! its evaluation on one row.
//!
//! ```text
//! expression  := conjunction ("or" conjunction)*
//! conjunction := negation ("and" negation)*
//! negation    := "not" negation | condition
//! condition   := "(" expression ")"
//!              | column ("==" | "!=" | "<" | "<=" | ">" | ">=") value
//!              | column ["not"] "in" "(" value ("," value)* ")"
//!              | column "is" ["not"] "missing"
//! column      := name | `any text in backquotes`
//! value       := number | "text" | 'text'
//! ```
//! Keywords are case-insensitive; in a quoted text `\` escapes the next character. A comparison
//! with a missing value is false (so `not (x > 1)` holds where `x` is missing); `is missing`
//! asks for it. Order (`<`, `>`) compares numbers only.

use std::fmt;

/// A parsed segment expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Expression {
    root: Node,
    columns: Vec<String>,
    /// Where each column is first named (a character offset), for errors.
    positions: Vec<usize>,
}

/// A value an expression compares a column with.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// A number.
    Number(f64),
    /// A text.
    Text(String),
}

/// A comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    /// `==`
    Equal,
    /// `!=`
    NotEqual,
    /// `<`
    Less,
    /// `<=`
    LessOrEqual,
    /// `>`
    Greater,
    /// `>=`
    GreaterOrEqual,
}

#[derive(Clone, Debug, PartialEq)]
enum Node {
    Or(Box<Node>, Box<Node>),
    And(Box<Node>, Box<Node>),
    Not(Box<Node>),
    Compare {
        column: usize,
        op: Comparison,
        value: Literal,
        at: usize,
    },
    In {
        column: usize,
        values: Vec<Literal>,
    },
    Missing {
        column: usize,
    },
}

/// One cell of a row an expression is evaluated on.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// An empty cell, a null, or NaN-like text.
    Missing,
    /// A number (from a numeric column).
    Number(f64),
    /// A text (from a text column, or any CSV cell), trimmed.
    Text(String),
}

/// What a column holds, as far as the type check knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnKind {
    /// Numbers only: comparing it with a text is a type error.
    Number,
    /// Anything (text, categories, or numbers written as text).
    Any,
}

/// Why an expression is not one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpressionError {
    /// 1-based character position in the expression.
    pub position: usize,
    /// What is wrong there.
    pub message: String,
}

impl fmt::Display for ExpressionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at position {}: {}", self.position, self.message)
    }
}

impl std::error::Error for ExpressionError {}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Name(String),
    /// A column name in backquotes: never a keyword.
    Quoted(String),
    Number(f64),
    Text(String),
    Op(Comparison),
    Open,
    Close,
    Comma,
    End,
}

fn describe(token: &Token) -> String {
    match token {
        Token::Name(n) => format!("{n:?}"),
        Token::Quoted(n) => format!("`{n}`"),
        Token::Number(v) => format!("the number {v}"),
        Token::Text(t) => format!("the text {t:?}"),
        Token::Op(op) => format!("`{}`", op.symbol()),
        Token::Open => "`(`".into(),
        Token::Close => "`)`".into(),
        Token::Comma => "`,`".into(),
        Token::End => "the end of the expression".into(),
    }
}

impl Comparison {
    /// How the comparison is written.
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::Equal => "==",
            Comparison::NotEqual => "!=",
            Comparison::Less => "<",
            Comparison::LessOrEqual => "<=",
            Comparison::Greater => ">",
            Comparison::GreaterOrEqual => ">=",
        }
    }

    fn ordering(self) -> bool {
        !matches!(self, Comparison::Equal | Comparison::NotEqual)
    }

    fn holds(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Comparison::Equal => ordering == Equal,
            Comparison::NotEqual => ordering != Equal,
            Comparison::Less => ordering == Less,
            Comparison::LessOrEqual => ordering != Greater,
            Comparison::Greater => ordering == Greater,
            Comparison::GreaterOrEqual => ordering != Less,
        }
    }
}

/// Splits the text into tokens, each with its 0-based character offset.
fn tokens(text: &str) -> Result<Vec<(Token, usize)>, ExpressionError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let error = |at: usize, message: String| ExpressionError {
        position: at + 1,
        message,
    };
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let token = match c {
            '(' => {
                i += 1;
                Token::Open
            }
            ')' => {
                i += 1;
                Token::Close
            }
            ',' => {
                i += 1;
                Token::Comma
            }
            '=' | '!' | '<' | '>' => {
                let next = chars.get(i + 1).copied();
                let (op, len) = match (c, next) {
                    ('=', Some('=')) => (Comparison::Equal, 2),
                    ('!', Some('=')) => (Comparison::NotEqual, 2),
                    ('<', Some('=')) => (Comparison::LessOrEqual, 2),
                    ('>', Some('=')) => (Comparison::GreaterOrEqual, 2),
                    ('<', _) => (Comparison::Less, 1),
                    ('>', _) => (Comparison::Greater, 1),
                    ('=', _) => return Err(error(start, "`=` is written `==`".into())),
                    _ => return Err(error(start, "`!` is written `!=` (or use `not`)".into())),
                };
                i += len;
                Token::Op(op)
            }
            '"' | '\'' | '`' => {
                let quote = c;
                let mut value = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            let what = if quote == '`' { "column name" } else { "text" };
                            return Err(error(
                                start,
                                format!("the {what} opened here has no closing {quote}"),
                            ));
                        }
                        Some('\\') if quote != '`' => {
                            let Some(&escaped) = chars.get(i + 1) else {
                                return Err(error(i, "`\\` at the end of the expression".into()));
                            };
                            value.push(escaped);
                            i += 2;
                        }
                        Some(&q) if q == quote => {
                            i += 1;
                            break;
                        }
                        Some(&other) => {
                            value.push(other);
                            i += 1;
                        }
                    }
                }
                if quote == '`' {
                    if value.trim().is_empty() {
                        return Err(error(start, "an empty column name".into()));
                    }
                    Token::Quoted(value)
                } else {
                    Token::Text(value)
                }
            }
            c if c.is_ascii_digit() || c == '-' || c == '+' || c == '.' => {
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric()
                        || chars[i] == '.'
                        || ((chars[i] == '-' || chars[i] == '+')
                            && (i == start || matches!(chars[i - 1], 'e' | 'E'))))
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                match word.parse::<f64>() {
                    Ok(v) if v.is_finite() => Token::Number(v),
                    _ => return Err(error(start, format!("{word:?} is not a number"))),
                }
            }
            c if c.is_alphabetic() || c == '_' => {
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '.')
                {
                    i += 1;
                }
                Token::Name(chars[start..i].iter().collect())
            }
            other => {
                return Err(error(
                    start,
                    format!(
                        "unexpected {other:?} (quote texts, and put odd column names in backquotes)"
                    ),
                ));
            }
        };
        out.push((token, start));
    }
    out.push((Token::End, chars.len()));
    Ok(out)
}

struct Parser {
    tokens: Vec<(Token, usize)>,
    next: usize,
    columns: Vec<String>,
    positions: Vec<usize>,
}

fn is_keyword(token: &Token, word: &str) -> bool {
    matches!(token, Token::Name(n) if n.eq_ignore_ascii_case(word))
}

const KEYWORDS: [&str; 6] = ["and", "or", "not", "in", "is", "missing"];

impl Parser {
    fn peek(&self) -> &Token {
        &self.tokens[self.next].0
    }

    fn at(&self) -> usize {
        self.tokens[self.next].1
    }

    fn error<T>(&self, message: String) -> Result<T, ExpressionError> {
        Err(ExpressionError {
            position: self.at() + 1,
            message,
        })
    }

    fn take(&mut self) -> Token {
        let token = self.tokens[self.next].0.clone();
        if token != Token::End {
            self.next += 1;
        }
        token
    }

    fn keyword(&mut self, word: &str) -> bool {
        if is_keyword(self.peek(), word) {
            self.next += 1;
            return true;
        }
        false
    }

    fn expression(&mut self) -> Result<Node, ExpressionError> {
        let mut left = self.conjunction()?;
        while self.keyword("or") {
            left = Node::Or(Box::new(left), Box::new(self.conjunction()?));
        }
        Ok(left)
    }

    fn conjunction(&mut self) -> Result<Node, ExpressionError> {
        let mut left = self.negation()?;
        while self.keyword("and") {
            left = Node::And(Box::new(left), Box::new(self.negation()?));
        }
        Ok(left)
    }

    fn negation(&mut self) -> Result<Node, ExpressionError> {
        if self.keyword("not") {
            return Ok(Node::Not(Box::new(self.negation()?)));
        }
        self.condition()
    }

    fn column(&mut self, name: String, at: usize) -> usize {
        if let Some(i) = self.columns.iter().position(|c| *c == name) {
            return i;
        }
        self.columns.push(name);
        self.positions.push(at);
        self.columns.len() - 1
    }

    fn value(&mut self) -> Result<Literal, ExpressionError> {
        match self.peek().clone() {
            Token::Number(v) => {
                self.take();
                Ok(Literal::Number(v))
            }
            Token::Text(t) => {
                self.take();
                Ok(Literal::Text(t))
            }
            other => self.error(format!(
                "expected a value (a number or a quoted text), found {}",
                describe(&other)
            )),
        }
    }

    fn condition(&mut self) -> Result<Node, ExpressionError> {
        let at = self.at();
        match self.take() {
            Token::Open => {
                let inner = self.expression()?;
                if self.take() != Token::Close {
                    return Err(ExpressionError {
                        position: at + 1,
                        message: "this `(` is not closed".into(),
                    });
                }
                Ok(inner)
            }
            Token::Name(name) if !KEYWORDS.iter().any(|k| name.eq_ignore_ascii_case(k)) => {
                let column = self.column(name.clone(), at);
                self.after_column(&name, column)
            }
            Token::Quoted(name) => {
                let column = self.column(name.clone(), at);
                self.after_column(&name, column)
            }
            other => {
                self.next = self.next.saturating_sub(usize::from(other != Token::End));
                self.error(format!(
                    "expected a column or `(`, found {}",
                    describe(&other)
                ))
            }
        }
    }

    fn after_column(&mut self, name: &str, column: usize) -> Result<Node, ExpressionError> {
        let at = self.at();
        if let Token::Op(op) = self.peek().clone() {
            self.take();
            let value_at = self.at();
            let value = self.value()?;
            if op.ordering()
                && let Literal::Text(t) = &value
            {
                return Err(ExpressionError {
                    position: value_at + 1,
                    message: format!("`{}` compares numbers, and {t:?} is a text", op.symbol()),
                });
            }
            return Ok(Node::Compare {
                column,
                op,
                value,
                at: value_at,
            });
        }
        if self.keyword("is") {
            let negated = self.keyword("not");
            if !self.keyword("missing") {
                return self.error(format!(
                    "expected `missing` after `is{}`, found {}",
                    if negated { " not" } else { "" },
                    describe(self.peek())
                ));
            }
            let node = Node::Missing { column };
            return Ok(if negated {
                Node::Not(Box::new(node))
            } else {
                node
            });
        }
        let negated = self.keyword("not");
        if self.keyword("in") {
            if self.take() != Token::Open {
                self.next -= 1;
                return self.error("expected `(` and a list of values after `in`".into());
            }
            let mut values = vec![self.value()?];
            while *self.peek() == Token::Comma {
                self.take();
                values.push(self.value()?);
            }
            if *self.peek() != Token::Close {
                return self.error(format!(
                    "expected `,` or `)` in the list of values, found {}",
                    describe(self.peek())
                ));
            }
            self.take();
            let node = Node::In { column, values };
            return Ok(if negated {
                Node::Not(Box::new(node))
            } else {
                node
            });
        }
        if negated {
            return self.error("expected `in` after `not`".into());
        }
        Err(ExpressionError {
            position: at + 1,
            message: format!(
                "expected a comparison (==, !=, <, <=, >, >=), `in` or `is missing` after column {name:?}, found {}",
                describe(self.peek())
            ),
        })
    }
}

/// A column as an expression names it: bare when the lexer reads it as one name, else in
/// backquotes.
pub fn column_reference(column: &str) -> String {
    let mut chars = column.chars();
    let bare = chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '.')
        && !KEYWORDS.iter().any(|k| column.eq_ignore_ascii_case(k));
    if bare {
        column.to_string()
    } else {
        format!("`{column}`")
    }
}

/// A text as an expression quotes it, `"` and `\` escaped.
pub fn text_literal(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

impl Expression {
    /// Parses an expression; the error points at the position of the problem.
    pub fn parse(text: &str) -> Result<Expression, ExpressionError> {
        let tokens = tokens(text)?;
        if tokens.len() == 1 {
            return Err(ExpressionError {
                position: 1,
                message: "the expression is empty".into(),
            });
        }
        let mut parser = Parser {
            tokens,
            next: 0,
            columns: Vec::new(),
            positions: Vec::new(),
        };
        let root = parser.expression()?;
        if *parser.peek() != Token::End {
            let found = describe(parser.peek());
            return parser.error(format!("expected `and`, `or` or the end, found {found}"));
        }
        Ok(Expression {
            root,
            columns: parser.columns,
            positions: parser.positions,
        })
    }

    /// The columns the expression reads, in the order it first names them: a row given to
    /// [`Expression::matches`] holds their cells in this order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Checks every column exists (`kind` answers `None` for an unknown one) and is compared
    /// with values of its type.
    pub fn check(
        &self,
        kind: impl Fn(&str) -> Option<ColumnKind>,
        known: &str,
    ) -> Result<(), ExpressionError> {
        let kinds: Vec<ColumnKind> = self
            .columns
            .iter()
            .zip(&self.positions)
            .map(|(c, &at)| {
                kind(c).ok_or_else(|| ExpressionError {
                    position: at + 1,
                    message: format!("unknown column {c:?} (the columns are {known})"),
                })
            })
            .collect::<Result<_, _>>()?;
        self.check_node(&self.root, &kinds)
    }

    fn check_node(&self, node: &Node, kinds: &[ColumnKind]) -> Result<(), ExpressionError> {
        let text_for_number = |column: usize, t: &str, at: usize| ExpressionError {
            position: at + 1,
            message: format!(
                "column {:?} holds numbers, so compare it with a number, not the text {t:?}",
                self.columns[column]
            ),
        };
        match node {
            Node::Or(a, b) | Node::And(a, b) => {
                self.check_node(a, kinds)?;
                self.check_node(b, kinds)
            }
            Node::Not(a) => self.check_node(a, kinds),
            Node::Compare {
                column,
                value: Literal::Text(t),
                at,
                ..
            } if kinds[*column] == ColumnKind::Number => Err(text_for_number(*column, t, *at)),
            Node::In { column, values } if kinds[*column] == ColumnKind::Number => {
                match values.iter().find_map(|v| match v {
                    Literal::Text(t) => Some(t),
                    Literal::Number(_) => None,
                }) {
                    Some(t) => Err(text_for_number(*column, t, self.positions[*column])),
                    None => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }

    /// Whether a row (its cells of [`Expression::columns`], in that order) is in the segment.
    /// The error says which column holds a cell that cannot be compared as asked.
    pub fn matches(&self, row: &[Cell]) -> Result<bool, String> {
        self.eval(&self.root, row)
    }

    fn eval(&self, node: &Node, row: &[Cell]) -> Result<bool, String> {
        Ok(match node {
            Node::Or(a, b) => self.eval(a, row)? || self.eval(b, row)?,
            Node::And(a, b) => self.eval(a, row)? && self.eval(b, row)?,
            Node::Not(a) => !self.eval(a, row)?,
            Node::Missing { column } => row[*column] == Cell::Missing,
            Node::Compare {
                column, op, value, ..
            } => match self.compare(*column, &row[*column], value)? {
                Some(ordering) => op.holds(ordering),
                None => false,
            },
            Node::In { column, values } => {
                for value in values {
                    if self.compare(*column, &row[*column], value)?
                        == Some(std::cmp::Ordering::Equal)
                    {
                        return Ok(true);
                    }
                }
                false
            }
        })
    }

    /// How a cell compares with a value; `None` for a missing cell (or a text that is not the
    /// value, for equality).
    fn compare(
        &self,
        column: usize,
        cell: &Cell,
        value: &Literal,
    ) -> Result<Option<std::cmp::Ordering>, String> {
        let name = &self.columns[column];
        Ok(match (cell, value) {
            (Cell::Missing, _) => None,
            (Cell::Number(x), Literal::Number(v)) => x.partial_cmp(v),
            (Cell::Text(s), Literal::Number(v)) => match s.parse::<f64>() {
                Ok(x) => x.partial_cmp(v),
                Err(_) => {
                    return Err(format!(
                        "column {name:?} holds the text {s:?}, which cannot be compared with the number {v}"
                    ));
                }
            },
            (Cell::Text(s), Literal::Text(t)) => Some(s.as_str().cmp(t.as_str())),
            (Cell::Number(x), Literal::Text(t)) => {
                return Err(format!(
                    "column {name:?} holds numbers (here {x}), which cannot be compared with the text {t:?}"
                ));
            }
        })
    }
}
