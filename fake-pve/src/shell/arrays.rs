//! bash's indexed arrays: `a=(x y)`, `a=([3]=x)`, `a+=(z)`, `a[i]=v`, `a[i]+=v`,
//! `${a[i]}` (a negative index counts back from the end), `${a[@]}` and `"${a[@]}"`
//! (one field per element), `${a[*]}`, `${#a[@]}`, `${#a[i]}`, `${!a[@]}`,
//! `unset a` / `unset 'a[i]'`, and `a[i]` in arithmetic. `PIPESTATUS` reads as one.
//!
//! A name holds a scalar (in `vars`) or an array (in `arrays`), never both: a scalar
//! reads as element 0 of an array, and `$a` of an array is `${a[0]}`. Refused
//! loudly: associative arrays, a subscript with side effects, a negative subscript
//! before the first element, and slicing or pattern operations over a whole array.

use std::collections::BTreeMap;

use super::Shell;

/// An indexed array: sparse, in index order.
pub(super) type Array = BTreeMap<i64, String>;

/// Why a subscript cannot be used.
#[derive(Debug)]
pub(super) struct BadSubscript;

impl Shell {
    /// The elements of `name` in index order: an array's, `PIPESTATUS`'s, a scalar as
    /// element 0, none for an unset name.
    pub(super) fn elements(&self, name: &str) -> Vec<(i64, String)> {
        if name == "PIPESTATUS" {
            return self
                .pipestatus
                .iter()
                .enumerate()
                .map(|(i, s)| (i as i64, s.to_string()))
                .collect();
        }
        if let Some(a) = self.arrays.get(name) {
            return a.iter().map(|(k, v)| (*k, v.clone())).collect();
        }
        self.vars
            .get(name)
            .map(|v| vec![(0, v.clone())])
            .unwrap_or_default()
    }

    /// Whether `name` is an array (not a scalar, not unset).
    pub(super) fn is_array(&self, name: &str) -> bool {
        name == "PIPESTATUS" || self.arrays.contains_key(name)
    }

    /// The value of a subscript: an integer, or arithmetic without side effects (it
    /// may be read more than once).
    pub(super) fn subscript(&self, index: &str) -> Result<i64, BadSubscript> {
        if let Ok(n) = index.trim().parse::<i64>() {
            return Ok(n);
        }
        let assigns = index.contains("++")
            || index.contains("--")
            || index
                .char_indices()
                .any(|(i, c)| c == '=' && !is_comparison(index, i));
        if assigns || index.trim().is_empty() {
            return Err(BadSubscript);
        }
        self.clone().arith(index).map_err(|_| BadSubscript)
    }

    /// Where subscript `index` of `name` points: a negative one counts back from one
    /// past the last element.
    pub(super) fn resolve_index(&self, name: &str, index: &str) -> Result<i64, BadSubscript> {
        let i = self.subscript(index)?;
        if i >= 0 {
            return Ok(i);
        }
        let end = self.elements(name).last().map_or(0, |(k, _)| k + 1);
        if end + i < 0 {
            return Err(BadSubscript);
        }
        Ok(end + i)
    }

    /// `${name[index]}`.
    pub(super) fn element(&self, name: &str, index: &str) -> Result<Option<String>, BadSubscript> {
        let i = self.resolve_index(name, index)?;
        Ok(self
            .elements(name)
            .into_iter()
            .find(|(k, _)| *k == i)
            .map(|(_, v)| v))
    }

    /// Makes `name` an array (a scalar becomes its element 0).
    fn array_mut(&mut self, name: &str) -> &mut Array {
        if !self.arrays.contains_key(name) {
            let mut a = Array::new();
            if let Some(v) = self.vars.remove(name) {
                a.insert(0, v);
            }
            self.ctx.env.remove(name);
            self.arrays.insert(name.to_string(), a);
        }
        self.arrays.get_mut(name).expect("inserted above")
    }

    /// `name=(…)` or `name+=(…)`: each value at its own index (`[k]=v`) or after the
    /// one before.
    pub(super) fn assign_array(
        &mut self,
        name: &str,
        values: Vec<(Option<i64>, String)>,
        append: bool,
    ) {
        if !append {
            self.vars.remove(name);
            self.ctx.env.remove(name);
            self.arrays.insert(name.to_string(), Array::new());
        }
        let array = self.array_mut(name);
        let mut next = array.keys().next_back().map_or(0, |k| k + 1);
        for (key, value) in values {
            let at = key.unwrap_or(next);
            array.insert(at, value);
            next = at + 1;
        }
    }

    /// `name[index]=value` or `+=`.
    pub(super) fn assign_element(
        &mut self,
        name: &str,
        index: &str,
        value: String,
        append: bool,
    ) -> Result<(), BadSubscript> {
        let i = self.resolve_index(name, index)?;
        let array = self.array_mut(name);
        let value = match (append, array.get(&i)) {
            (true, Some(old)) => format!("{old}{value}"),
            _ => value,
        };
        array.insert(i, value);
        Ok(())
    }

    /// `unset 'name[index]'`.
    pub(super) fn unset_element(&mut self, name: &str, index: &str) -> Result<(), BadSubscript> {
        let i = self.resolve_index(name, index)?;
        if self.arrays.contains_key(name) {
            self.array_mut(name).remove(&i);
        } else if i == 0 {
            self.vars.remove(name);
            self.ctx.env.remove(name);
        }
        Ok(())
    }
}

/// Whether the `=` at byte `i` of `s` belongs to `==`, `!=`, `<=` or `>=`.
fn is_comparison(s: &str, i: usize) -> bool {
    let b = s.as_bytes();
    let before = i.checked_sub(1).map(|j| b[j]);
    let after = b.get(i + 1).copied();
    matches!(before, Some(b'=' | b'!' | b'<' | b'>')) || after == Some(b'=')
}

/// `name[index]` split, for `unset 'a[1]'`; `None` for a plain name.
pub(super) fn split_subscript(word: &str) -> Option<(&str, &str)> {
    let (name, rest) = word.split_once('[')?;
    let index = rest.strip_suffix(']')?;
    Some((name, index))
}
