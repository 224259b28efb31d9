//! Lexer and parser of the label selector string syntax (upstream `labels.Parse`).

use std::collections::BTreeSet;

use super::{Operator, Origin, Requirement, Result, SelectorError, validate_key};

/// Parses the string syntax into requirements (unsorted).
pub(super) fn parse_requirements(text: &str) -> Result<Vec<Requirement>> {
    let mut parser = Parser {
        tokens: lex(text),
        position: 0,
    };
    parser.parse()
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Identifier(String),
    DoesNotExist,
    NotEquals,
    Equals,
    DoubleEquals,
    GreaterThan,
    LessThan,
    OpenParen,
    CloseParen,
    Comma,
    In,
    NotIn,
    End,
    Error(String),
}

impl Token {
    /// The literal upstream quotes in error messages.
    fn literal(&self) -> String {
        match self {
            Token::Identifier(s) | Token::Error(s) => s.clone(),
            Token::DoesNotExist => "!".to_string(),
            Token::NotEquals => "!=".to_string(),
            Token::Equals => "=".to_string(),
            Token::DoubleEquals => "==".to_string(),
            Token::GreaterThan => ">".to_string(),
            Token::LessThan => "<".to_string(),
            Token::OpenParen => "(".to_string(),
            Token::CloseParen => ")".to_string(),
            Token::Comma => ",".to_string(),
            Token::In => "in".to_string(),
            Token::NotIn => "notin".to_string(),
            Token::End => String::new(),
        }
    }
}

fn is_special(c: char) -> bool {
    matches!(c, '=' | '!' | '(' | ')' | ',' | '>' | '<')
}

fn lex(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if is_special(c) {
            let start = i;
            while i < chars.len() && is_special(chars[i]) {
                i += 1;
            }
            // Take the longest known operator prefix, as upstream's lexer does.
            let run: String = chars[start..i].iter().collect();
            let mut matched = None;
            for candidate in ["!=", "==", "!", "=", ">", "<", "(", ")", ","] {
                if run.starts_with(candidate)
                    && matched.is_none_or(|m: &str| candidate.len() > m.len())
                {
                    matched = Some(candidate);
                }
            }
            match matched {
                Some(op) => {
                    i = start + op.chars().count();
                    tokens.push(match op {
                        "!=" => Token::NotEquals,
                        "==" => Token::DoubleEquals,
                        "!" => Token::DoesNotExist,
                        "=" => Token::Equals,
                        ">" => Token::GreaterThan,
                        "<" => Token::LessThan,
                        "(" => Token::OpenParen,
                        ")" => Token::CloseParen,
                        _ => Token::Comma,
                    });
                }
                None => {
                    tokens.push(Token::Error(run));
                }
            }
        } else {
            let start = i;
            while i < chars.len() && !chars[i].is_whitespace() && !is_special(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            tokens.push(match word.as_str() {
                "in" => Token::In,
                "notin" => Token::NotIn,
                _ => Token::Identifier(word),
            });
        }
    }
    tokens.push(Token::End);
    tokens
}

/// In "values" context the keywords `in` / `notin` are plain identifiers.
fn as_value(token: Token) -> Token {
    match token {
        Token::In => Token::Identifier("in".to_string()),
        Token::NotIn => Token::Identifier("notin".to_string()),
        other => other,
    }
}

struct Parser {
    tokens: Vec<Token>,
    position: usize,
}

impl Parser {
    fn peek(&self) -> Token {
        as_value(
            self.tokens
                .get(self.position)
                .cloned()
                .unwrap_or(Token::End),
        )
    }

    fn next_raw(&mut self) -> Token {
        let token = self
            .tokens
            .get(self.position)
            .cloned()
            .unwrap_or(Token::End);
        if self.position < self.tokens.len() {
            self.position += 1;
        }
        token
    }

    fn next(&mut self) -> Token {
        as_value(self.next_raw())
    }

    fn parse(&mut self) -> Result<Vec<Requirement>> {
        let mut requirements = Vec::new();
        loop {
            match self.peek() {
                Token::Identifier(_) | Token::DoesNotExist => {
                    requirements.push(self.parse_requirement()?);
                    match self.next() {
                        Token::End => return Ok(requirements),
                        Token::Comma => {
                            let after = self.peek();
                            if !matches!(after, Token::Identifier(_) | Token::DoesNotExist) {
                                return Err(SelectorError::Syntax(format!(
                                    "found '{}', expected: identifier after ','",
                                    after.literal()
                                )));
                            }
                        }
                        other => {
                            return Err(SelectorError::Syntax(format!(
                                "found '{}', expected: ',' or 'end of string'",
                                other.literal()
                            )));
                        }
                    }
                }
                Token::End => return Ok(requirements),
                other => {
                    return Err(SelectorError::Syntax(format!(
                        "found '{}', expected: !, identifier, or 'end of string'",
                        other.literal()
                    )));
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement> {
        let req_err = SelectorError::Requirement;
        let mut token = self.next();
        let mut does_not_exist = false;
        if token == Token::DoesNotExist {
            does_not_exist = true;
            token = self.next();
        }
        let Token::Identifier(key) = token else {
            return Err(req_err(format!(
                "found '{}', expected: identifier",
                token.literal()
            )));
        };
        validate_key(&key, "<nil>").map_err(req_err)?;
        if does_not_exist {
            // Whatever follows `!key` is left for the caller to reject, as upstream does.
            return Ok(Requirement {
                key,
                operator: Operator::DoesNotExist,
                values: Vec::new(),
            });
        }
        if matches!(self.peek(), Token::End | Token::Comma) {
            return Ok(Requirement {
                key,
                operator: Operator::Exists,
                values: Vec::new(),
            });
        }
        let operator = match self.next_raw() {
            Token::In => Operator::In,
            Token::NotIn => Operator::NotIn,
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::NotEquals => Operator::NotEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            other => {
                return Err(req_err(format!(
                    "found '{}', expected: in, notin, =, ==, !=, gt, lt",
                    other.literal()
                )));
            }
        };
        let mut values: Vec<String> = match operator {
            Operator::In | Operator::NotIn => self.parse_values()?.into_iter().collect(),
            _ => vec![self.parse_exact_value()?],
        };
        Requirement::build(&key, operator, &mut values, Origin::Parse)?;
        values.sort();
        Ok(Requirement {
            key,
            operator,
            values,
        })
    }

    fn parse_values(&mut self) -> Result<BTreeSet<String>> {
        let req_err = SelectorError::Requirement;
        let token = self.next();
        if token != Token::OpenParen {
            return Err(req_err(format!(
                "found '{}' expected: '('",
                token.literal()
            )));
        }
        match self.peek() {
            Token::Identifier(_) | Token::Comma => {
                let values = self.parse_identifier_list()?;
                let close = self.next();
                if close != Token::CloseParen {
                    return Err(req_err(format!(
                        "found '{}', expected: ')'",
                        close.literal()
                    )));
                }
                Ok(values)
            }
            Token::CloseParen => {
                self.next();
                Ok(BTreeSet::from([String::new()]))
            }
            other => Err(req_err(format!(
                "found '{}', expected: ',', ')' or identifier",
                other.literal()
            ))),
        }
    }

    fn parse_identifier_list(&mut self) -> Result<BTreeSet<String>> {
        let mut values = BTreeSet::new();
        loop {
            match self.next() {
                Token::Identifier(value) => {
                    values.insert(value);
                    match self.peek() {
                        Token::Comma => continue,
                        Token::CloseParen => return Ok(values),
                        other => {
                            return Err(SelectorError::Requirement(format!(
                                "found '{}', expected: ',' or ')'",
                                other.literal()
                            )));
                        }
                    }
                }
                Token::Comma => {
                    if values.is_empty() {
                        values.insert(String::new());
                    }
                    match self.peek() {
                        Token::CloseParen => {
                            values.insert(String::new());
                            return Ok(values);
                        }
                        Token::Comma => {
                            self.next();
                            values.insert(String::new());
                        }
                        _ => {}
                    }
                }
                other => {
                    return Err(SelectorError::Requirement(format!(
                        "found '{}', expected: ',', or identifier",
                        other.literal()
                    )));
                }
            }
        }
    }

    fn parse_exact_value(&mut self) -> Result<String> {
        if matches!(self.peek(), Token::End | Token::Comma) {
            return Ok(String::new());
        }
        match self.next() {
            Token::Identifier(value) => Ok(value),
            other => Err(SelectorError::Requirement(format!(
                "found '{}', expected: identifier",
                other.literal()
            ))),
        }
    }
}
