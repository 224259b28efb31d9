//! A small regular-expression matcher for the `pattern` keyword of CRD schemas (upstream uses
//! Go's RE2 syntax; this covers what schemas use: literals, `.`, classes, `\d \w \s`, groups,
//! alternation, anchors and the quantifiers `* + ? {n,m}`). Matching is a search: the pattern
//! may match anywhere unless anchored.

use std::fmt;

/// A pattern that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError(pub String);

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid pattern: {}", self.0)
    }
}

impl std::error::Error for PatternError {}

#[derive(Debug, Clone)]
enum Node {
    Literal(char),
    Any,
    Class {
        ranges: Vec<(char, char)>,
        negated: bool,
    },
    Start,
    End,
    Group(Vec<Vec<Node>>),
    Repeat {
        node: Box<Node>,
        min: usize,
        max: Option<usize>,
    },
}

/// A compiled pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    program: Vec<Inst>,
}

struct Parser<'a> {
    chars: Vec<char>,
    pos: usize,
    source: &'a str,
}

const DIGIT: &[(char, char)] = &[('0', '9')];
const WORD: &[(char, char)] = &[('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')];
const SPACE: &[(char, char)] = &[('\t', '\n'), ('\u{b}', '\r'), (' ', ' ')];

impl Parser<'_> {
    fn error(&self, what: &str) -> PatternError {
        PatternError(format!("{what} in {:?}", self.source))
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn alternatives(&mut self) -> Result<Vec<Vec<Node>>, PatternError> {
        let mut alternatives = vec![self.sequence()?];
        while self.peek() == Some('|') {
            self.pos += 1;
            alternatives.push(self.sequence()?);
        }
        Ok(alternatives)
    }

    fn sequence(&mut self) -> Result<Vec<Node>, PatternError> {
        let mut nodes = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom()?;
            nodes.push(self.quantified(atom)?);
        }
        Ok(nodes)
    }

    fn atom(&mut self) -> Result<Node, PatternError> {
        let c = self.peek().ok_or_else(|| self.error("unexpected end"))?;
        self.pos += 1;
        Ok(match c {
            '.' => Node::Any,
            '^' => Node::Start,
            '$' => Node::End,
            '(' => {
                if self.chars.get(self.pos..self.pos + 2) == Some(&['?', ':']) {
                    self.pos += 2;
                }
                let inner = self.alternatives()?;
                if self.peek() != Some(')') {
                    return Err(self.error("missing )"));
                }
                self.pos += 1;
                Node::Group(inner)
            }
            '[' => self.class()?,
            '\\' => self.escape()?,
            '*' | '+' | '?' => return Err(self.error("nothing to repeat")),
            c => Node::Literal(c),
        })
    }

    fn escape(&mut self) -> Result<Node, PatternError> {
        let c = self
            .peek()
            .ok_or_else(|| self.error("trailing backslash"))?;
        self.pos += 1;
        let class = |ranges: &[(char, char)], negated| Node::Class {
            ranges: ranges.to_vec(),
            negated,
        };
        Ok(match c {
            'd' => class(DIGIT, false),
            'D' => class(DIGIT, true),
            'w' => class(WORD, false),
            'W' => class(WORD, true),
            's' => class(SPACE, false),
            'S' => class(SPACE, true),
            'n' => Node::Literal('\n'),
            't' => Node::Literal('\t'),
            'r' => Node::Literal('\r'),
            c => Node::Literal(c),
        })
    }

    fn class_char(&mut self) -> Result<char, PatternError> {
        let c = self.peek().ok_or_else(|| self.error("missing ]"))?;
        self.pos += 1;
        if c != '\\' {
            return Ok(c);
        }
        let escaped = self.peek().ok_or_else(|| self.error("missing ]"))?;
        self.pos += 1;
        Ok(match escaped {
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            other => other,
        })
    }

    fn class(&mut self) -> Result<Node, PatternError> {
        let negated = self.peek() == Some('^');
        if negated {
            self.pos += 1;
        }
        let mut ranges = Vec::new();
        let mut first = true;
        loop {
            let c = self.peek().ok_or_else(|| self.error("missing ]"))?;
            if c == ']' && !first {
                self.pos += 1;
                break;
            }
            first = false;
            if c == '\\' && matches!(self.chars.get(self.pos + 1), Some('d' | 'w' | 's')) {
                let set = match self.chars.get(self.pos + 1) {
                    Some('d') => DIGIT,
                    Some('w') => WORD,
                    _ => SPACE,
                };
                ranges.extend_from_slice(set);
                self.pos += 2;
                continue;
            }
            let low = self.class_char()?;
            if self.peek() == Some('-') && self.chars.get(self.pos + 1).is_some_and(|c| *c != ']') {
                self.pos += 1;
                let high = self.class_char()?;
                ranges.push((low, high));
            } else {
                ranges.push((low, low));
            }
        }
        Ok(Node::Class { ranges, negated })
    }

    fn number(&mut self) -> Option<usize> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        self.chars[start..self.pos]
            .iter()
            .collect::<String>()
            .parse()
            .ok()
    }

    fn quantified(&mut self, atom: Node) -> Result<Node, PatternError> {
        let (min, max) = match self.peek() {
            Some('*') => (0, None),
            Some('+') => (1, None),
            Some('?') => (0, Some(1)),
            Some('{') => {
                let save = self.pos;
                self.pos += 1;
                let Some(min) = self.number() else {
                    self.pos = save;
                    return Ok(atom);
                };
                let max = if self.peek() == Some(',') {
                    self.pos += 1;
                    self.number()
                } else {
                    Some(min)
                };
                if self.peek() != Some('}') {
                    self.pos = save;
                    return Ok(atom);
                }
                (min, max)
            }
            _ => return Ok(atom),
        };
        self.pos += 1;
        if self.peek() == Some('?') {
            self.pos += 1;
        }
        Ok(Node::Repeat {
            node: Box::new(atom),
            min,
            max,
        })
    }
}

/// One instruction of the compiled automaton.
#[derive(Debug, Clone)]
enum Inst {
    Literal(char),
    Any,
    Class {
        ranges: Vec<(char, char)>,
        negated: bool,
    },
    AssertStart,
    AssertEnd,
    Split(usize, usize),
    Jump(usize),
    Match,
}

/// Longest program a pattern may compile to (counted repetitions are expanded).
const MAX_PROGRAM: usize = 50_000;

fn compile(node: &Node, program: &mut Vec<Inst>) -> Result<(), PatternError> {
    if program.len() > MAX_PROGRAM {
        return Err(PatternError("pattern too large".to_string()));
    }
    match node {
        Node::Literal(c) => program.push(Inst::Literal(*c)),
        Node::Any => program.push(Inst::Any),
        Node::Class { ranges, negated } => program.push(Inst::Class {
            ranges: ranges.clone(),
            negated: *negated,
        }),
        Node::Start => program.push(Inst::AssertStart),
        Node::End => program.push(Inst::AssertEnd),
        Node::Group(alternatives) => compile_alternatives(alternatives, program)?,
        Node::Repeat { node, min, max } => {
            for _ in 0..*min {
                compile(node, program)?;
            }
            match max {
                None => {
                    let split = program.len();
                    program.push(Inst::Split(split + 1, 0));
                    compile(node, program)?;
                    program.push(Inst::Jump(split));
                    let end = program.len();
                    program[split] = Inst::Split(split + 1, end);
                }
                Some(max) => {
                    let mut splits = Vec::new();
                    for _ in *min..*max {
                        splits.push(program.len());
                        program.push(Inst::Split(0, 0));
                        compile(node, program)?;
                        if program.len() > MAX_PROGRAM {
                            return Err(PatternError("pattern too large".to_string()));
                        }
                    }
                    let end = program.len();
                    for split in splits {
                        program[split] = Inst::Split(split + 1, end);
                    }
                }
            }
        }
    }
    Ok(())
}

fn compile_alternatives(
    alternatives: &[Vec<Node>],
    program: &mut Vec<Inst>,
) -> Result<(), PatternError> {
    let mut jumps = Vec::new();
    for (index, sequence) in alternatives.iter().enumerate() {
        let split = (index + 1 < alternatives.len()).then(|| {
            program.push(Inst::Split(0, 0));
            program.len() - 1
        });
        for node in sequence {
            compile(node, program)?;
        }
        if let Some(split) = split {
            jumps.push(program.len());
            program.push(Inst::Jump(0));
            let next = program.len();
            program[split] = Inst::Split(split + 1, next);
        }
    }
    let end = program.len();
    for jump in jumps {
        program[jump] = Inst::Jump(end);
    }
    Ok(())
}

impl Pattern {
    /// Parses and compiles a pattern.
    pub fn new(source: &str) -> Result<Self, PatternError> {
        let mut parser = Parser {
            chars: source.chars().collect(),
            pos: 0,
            source,
        };
        let alternatives = parser.alternatives()?;
        if parser.pos != parser.chars.len() {
            return Err(parser.error("unmatched )"));
        }
        let mut program = Vec::new();
        compile_alternatives(&alternatives, &mut program)?;
        program.push(Inst::Match);
        Ok(Pattern { program })
    }

    /// Whether the pattern matches somewhere in `text` (a Pike-style automaton simulation:
    /// linear in the text, no backtracking).
    pub fn is_match(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        let mut current: Vec<usize> = Vec::new();
        let mut on_list = vec![usize::MAX; self.program.len()];
        for pos in 0..=chars.len() {
            // Unanchored search: a thread may start at every position.
            if self.add_thread(&mut current, &mut on_list, 0, pos, chars.len()) {
                return true;
            }
            let Some(&c) = chars.get(pos) else {
                break;
            };
            let mut next: Vec<usize> = Vec::new();
            for &pc in &current {
                let advances = match &self.program[pc] {
                    Inst::Literal(expected) => *expected == c,
                    Inst::Any => c != '\n',
                    Inst::Class { ranges, negated } => {
                        ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi) != *negated
                    }
                    _ => false,
                };
                if advances
                    && self.add_thread(&mut next, &mut on_list, pc + 1, pos + 1, chars.len())
                {
                    return true;
                }
            }
            current = next;
        }
        false
    }

    /// Adds `pc` and its epsilon closure at `pos`; true when `Match` is reached.
    fn add_thread(
        &self,
        list: &mut Vec<usize>,
        on_list: &mut [usize],
        pc: usize,
        pos: usize,
        len: usize,
    ) -> bool {
        let mut stack = vec![pc];
        while let Some(pc) = stack.pop() {
            if on_list[pc] == pos {
                continue;
            }
            on_list[pc] = pos;
            match &self.program[pc] {
                Inst::Match => return true,
                Inst::Jump(target) => stack.push(*target),
                Inst::Split(first, second) => {
                    stack.push(*second);
                    stack.push(*first);
                }
                Inst::AssertStart => {
                    if pos == 0 {
                        stack.push(pc + 1);
                    }
                }
                Inst::AssertEnd => {
                    if pos == len {
                        stack.push(pc + 1);
                    }
                }
                _ => list.push(pc),
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, text: &str) -> bool {
        Pattern::new(pattern)
            .map(|p| p.is_match(text))
            .unwrap_or(false)
    }

    #[test]
    fn common_patterns() {
        assert!(matches("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "my-name"));
        assert!(!matches("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "My-name"));
        assert!(!matches("^[a-z]+$", "abc-"));
        assert!(matches("abc", "xxabcxx"));
        assert!(matches("^\\d{3}-\\d{4}$", "555-1234"));
        assert!(!matches("^\\d{3}-\\d{4}$", "55-1234"));
        assert!(matches("^(red|green|blue)$", "green"));
        assert!(!matches("^(red|green|blue)$", "greenish"));
        assert!(matches("^(\\d+(\\.\\d+)?)(Mi|Gi)?$", "1.5Gi"));
        assert!(matches("^a{2,}b?$", "aaaa"));
        assert!(matches("^[^/]+$", "abc"));
        assert!(!matches("^[^/]+$", "a/c"));
        assert!(matches("^(?:a|b)*c$", "ababc"));
        assert!(Pattern::new("(abc").is_err());
    }
}
