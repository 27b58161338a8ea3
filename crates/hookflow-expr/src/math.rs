//! Arithmetic for the `math` formatter: the template is rendered to text
//! first, then that text is evaluated here.
//!
//! Grammar, loosest binding first:
//!
//! ```text
//! sum     = product (("+" | "-") product)*
//! product = unary (("*" | "/" | "%") unary)*
//! unary   = ("-" | "+") unary | power
//! power   = primary ("^" unary)?            right-associative; -2^2 is -4
//! primary = number | name "(" args ")" | "(" sum ")"
//! ```
//!
//! Integers stay exact while they fit in an `i64` and fall back to floats
//! otherwise. `%` takes the sign of the divisor, like spreadsheets.

use serde_json::Value as Json;

/// How deeply parentheses and unary signs may nest.
const MAX_DEPTH: usize = 200;

/// An expression that can't be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct MathError {
    /// What is wrong.
    pub message: String,
    /// 1-based column (in characters) where it is wrong, when there is a place.
    pub column: Option<usize>,
}

impl std::fmt::Display for MathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.column {
            Some(column) => write!(f, "column {column}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Evaluates an arithmetic expression such as `3 * 19.99` or `round(10 / 3, 2)`.
///
/// The result is an integer when it is integral and fits in an `i64`, else a float.
pub fn eval_math(expression: &str) -> Result<Json, MathError> {
    let tokens = tokenize(expression)?;
    if tokens.len() == 1 {
        return Err(MathError {
            message: "the expression is empty".to_string(),
            column: None,
        });
    }
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
    };
    let value = parser.sum()?;
    let next = parser.peek();
    if next.kind != Tok::End {
        return Err(parser.unexpected(next, "an operator"));
    }
    value.to_json().ok_or_else(|| MathError {
        message: "the result is not a finite number".to_string(),
        column: None,
    })
}

#[derive(Debug, Clone, Copy)]
enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    fn f(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    fn is_zero(self) -> bool {
        self.f() == 0.0
    }

    fn to_json(self) -> Option<Json> {
        match self {
            Num::Int(i) => Some(Json::from(i)),
            Num::Float(f) if !f.is_finite() => None,
            Num::Float(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Some(Json::from(f as i64)),
            Num::Float(f) => serde_json::Number::from_f64(f).map(Json::Number),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(String),
    Name(String),
    Op(char),
    End,
}

#[derive(Debug, Clone)]
struct Token {
    kind: Tok,
    column: usize,
}

fn tokenize(input: &str) -> Result<Vec<Token>, MathError> {
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() || c == '.' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                let mut k = i + 1;
                if k < chars.len() && (chars[k] == '+' || chars[k] == '-') {
                    k += 1;
                }
                if k < chars.len() && chars[k].is_ascii_digit() {
                    i = k;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            let text: String = chars[start..i].iter().collect();
            if text.matches('.').count() > 1 || text.starts_with(".e") || text == "." {
                return Err(MathError {
                    message: format!("`{text}` is not a number"),
                    column: Some(column),
                });
            }
            tokens.push(Token {
                kind: Tok::Num(text),
                column,
            });
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(Token {
                kind: Tok::Name(chars[start..i].iter().collect()),
                column,
            });
        } else if "+-*/%^(),".contains(c) {
            tokens.push(Token {
                kind: Tok::Op(c),
                column,
            });
            i += 1;
        } else {
            return Err(MathError {
                message: format!("unexpected character `{c}`"),
                column: Some(column),
            });
        }
    }
    tokens.push(Token {
        kind: Tok::End,
        column: chars.len() + 1,
    });
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Token {
        self.tokens[self.pos.min(self.tokens.len() - 1)].clone()
    }

    fn next(&mut self) -> Token {
        let token = self.peek();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        token
    }

    fn eat(&mut self, op: char) -> bool {
        if self.peek().kind == Tok::Op(op) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn unexpected(&self, token: Token, expected: &str) -> MathError {
        let found = match &token.kind {
            Tok::Num(n) => format!("`{n}`"),
            Tok::Name(n) => format!("`{n}`"),
            Tok::Op(c) => format!("`{c}`"),
            Tok::End => "end of expression".to_string(),
        };
        MathError {
            message: format!("unexpected {found}, expected {expected}"),
            column: Some(token.column),
        }
    }

    fn sum(&mut self) -> Result<Num, MathError> {
        let mut left = self.product()?;
        loop {
            if self.eat('+') {
                left = add(left, self.product()?);
            } else if self.eat('-') {
                left = sub(left, self.product()?);
            } else {
                return Ok(left);
            }
        }
    }

    fn product(&mut self) -> Result<Num, MathError> {
        let mut left = self.unary()?;
        loop {
            let token = self.peek();
            let op = match token.kind {
                Tok::Op(op @ ('*' | '/' | '%')) => op,
                _ => return Ok(left),
            };
            self.pos += 1;
            let right = self.unary()?;
            left = match op {
                '*' => mul(left, right),
                _ if right.is_zero() => {
                    return Err(MathError {
                        message: "division by zero".to_string(),
                        column: Some(token.column),
                    })
                }
                '/' => div(left, right),
                _ => rem(left, right),
            };
        }
    }

    fn unary(&mut self) -> Result<Num, MathError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(MathError {
                message: "the expression is nested too deeply".to_string(),
                column: Some(self.peek().column),
            });
        }
        let result = if self.eat('-') {
            self.unary().map(neg)
        } else if self.eat('+') {
            self.unary()
        } else {
            self.power()
        };
        self.depth -= 1;
        result
    }

    fn power(&mut self) -> Result<Num, MathError> {
        let base = self.primary()?;
        if self.eat('^') {
            let exponent = self.unary()?;
            return Ok(pow(base, exponent));
        }
        Ok(base)
    }

    fn primary(&mut self) -> Result<Num, MathError> {
        let token = self.next();
        match token.kind {
            Tok::Num(ref text) => Ok(parse_number(text)),
            Tok::Op('(') => {
                let value = self.sum()?;
                if !self.eat(')') {
                    return Err(self.unexpected(self.peek(), "`)`"));
                }
                Ok(value)
            }
            Tok::Name(ref name) => {
                if !self.eat('(') {
                    return Err(MathError {
                        message: format!("unknown name `{name}`"),
                        column: Some(token.column),
                    });
                }
                let mut args = Vec::new();
                if !self.eat(')') {
                    loop {
                        args.push(self.sum()?);
                        if self.eat(')') {
                            break;
                        }
                        if !self.eat(',') {
                            return Err(self.unexpected(self.peek(), "`,` or `)`"));
                        }
                    }
                }
                call(name, &args).map_err(|message| MathError {
                    message,
                    column: Some(token.column),
                })
            }
            _ => Err(self.unexpected(token, "a number")),
        }
    }
}

fn parse_number(text: &str) -> Num {
    match text.parse::<i64>() {
        Ok(i) => Num::Int(i),
        // The tokenizer only lets through digits, one dot and an exponent.
        Err(_) => Num::Float(text.parse::<f64>().unwrap_or(f64::NAN)),
    }
}

fn int_or_float(exact: Option<i64>, float: impl FnOnce() -> f64) -> Num {
    exact.map_or_else(|| Num::Float(float()), Num::Int)
}

fn add(a: Num, b: Num) -> Num {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => int_or_float(x.checked_add(y), || x as f64 + y as f64),
        _ => Num::Float(a.f() + b.f()),
    }
}

fn sub(a: Num, b: Num) -> Num {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => int_or_float(x.checked_sub(y), || x as f64 - y as f64),
        _ => Num::Float(a.f() - b.f()),
    }
}

fn mul(a: Num, b: Num) -> Num {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => int_or_float(x.checked_mul(y), || x as f64 * y as f64),
        _ => Num::Float(a.f() * b.f()),
    }
}

fn div(a: Num, b: Num) -> Num {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) if x.checked_rem(y) == Some(0) => {
            int_or_float(x.checked_div(y), || x as f64 / y as f64)
        }
        _ => Num::Float(a.f() / b.f()),
    }
}

fn rem(a: Num, b: Num) -> Num {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => int_or_float(
            x.checked_rem(y)
                .map(|r| if r != 0 && (r < 0) != (y < 0) { r + y } else { r }),
            || 0.0,
        ),
        _ => {
            let (x, y) = (a.f(), b.f());
            Num::Float(x - y * (x / y).floor())
        }
    }
}

fn neg(a: Num) -> Num {
    match a {
        Num::Int(x) => int_or_float(x.checked_neg(), || -(x as f64)),
        Num::Float(f) => Num::Float(-f),
    }
}

fn pow(a: Num, b: Num) -> Num {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) if (0..=u32::MAX as i64).contains(&y) => {
            int_or_float(x.checked_pow(y as u32), || (x as f64).powf(y as f64))
        }
        _ => Num::Float(a.f().powf(b.f())),
    }
}

const FUNCTIONS: &str = "abs, ceil, floor, max, min, round, sqrt";

fn call(name: &str, args: &[Num]) -> Result<Num, String> {
    let one = || match args {
        [x] => Ok(*x),
        _ => Err(format!("{name}() takes 1 argument, got {}", args.len())),
    };
    match name {
        "abs" => Ok(match one()? {
            Num::Int(x) => int_or_float(x.checked_abs(), || (x as f64).abs()),
            Num::Float(f) => Num::Float(f.abs()),
        }),
        "floor" => Ok(integral(one()?.f().floor())),
        "ceil" => Ok(integral(one()?.f().ceil())),
        "sqrt" => {
            let x = one()?.f();
            if x < 0.0 {
                return Err(format!("sqrt() of a negative number ({x})"));
            }
            Ok(Num::Float(x.sqrt()))
        }
        "round" => match args {
            [x] => Ok(round_to(*x, 0)),
            [x, Num::Int(digits)] => Ok(round_to(*x, *digits)),
            [_, Num::Float(d)] => Err(format!("round(): the number of digits must be a whole number, got {d}")),
            _ => Err(format!("round() takes 1 or 2 arguments, got {}", args.len())),
        },
        "min" | "max" => {
            let (first, rest) = args
                .split_first()
                .ok_or_else(|| format!("{name}() needs at least 1 argument"))?;
            Ok(rest.iter().fold(*first, |best, x| {
                let better = if name == "min" {
                    x.f() < best.f()
                } else {
                    x.f() > best.f()
                };
                if better {
                    *x
                } else {
                    best
                }
            }))
        }
        _ => Err(format!("unknown function `{name}`; functions: {FUNCTIONS}")),
    }
}

fn integral(f: f64) -> Num {
    if f.abs() < 9.2e18 {
        Num::Int(f as i64)
    } else {
        Num::Float(f)
    }
}

/// Rounds half away from zero to `digits` decimals (negative: to tens,
/// hundreds...), on the number as it is written: `round(2.675, 2)` is 2.68
/// although the float 2.675 is a little below it.
fn round_to(x: Num, digits: i64) -> Num {
    let f = match x {
        Num::Int(i) if digits >= 0 => return Num::Int(i),
        Num::Int(i) => i as f64,
        Num::Float(f) => f,
    };
    if !f.is_finite() {
        return Num::Float(f);
    }
    // Shortest representation, e.g. "2.675e0": mantissa digits and exponent.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i64 = exponent.parse().unwrap_or(0);
    let digits_all: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    // Number of mantissa digits to keep.
    let keep = exponent + 1 + digits.clamp(-400, 400);
    let rounded = if keep < 0 {
        0.0
    } else if keep as usize >= digits_all.len() {
        f.abs()
    } else {
        let keep = keep as usize;
        let mut kept: u128 = digits_all[..keep].parse().unwrap_or(0);
        if digits_all.as_bytes()[keep] >= b'5' {
            kept += 1;
        }
        format!("{kept}e{}", exponent + 1 - keep as i64)
            .parse()
            .unwrap_or(f64::NAN)
    };
    let rounded = if f < 0.0 { -rounded } else { rounded };
    if digits <= 0 {
        integral(rounded)
    } else {
        Num::Float(rounded)
    }
}
