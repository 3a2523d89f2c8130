//! `test` and `[`.

use crate::io::Io;
use crate::proc::Ctx;

use super::{Status, fail, stat_path};

pub(super) async fn test(ctx: &Ctx, args: &[String], io: &Io, bracket: bool) -> Status {
    let args = if bracket {
        match args.split_last() {
            Some((last, rest)) if last == "]" => rest,
            _ => return fail(io, "bash: line 1: [", "missing `]'", 2).await,
        }
    } else {
        args
    };
    match brush_parser::test_command::parse(args) {
        Ok(expr) if !emulated(&expr) => Ok(ctx.refuse(io, "this test operator", 2).await),
        Ok(expr) => Ok(if eval_test(ctx, &expr) { 0 } else { 1 }),
        Err(_) => Ok(ctx
            .refuse(io, "the message of this malformed test expression", 2)
            .await),
    }
}

/// Whether every operator of the expression is one `eval_test` answers truly: file
/// age and identity (`-nt`, `-ot`, `-ef`) and the terminal test (`-t`) are not.
fn emulated(expr: &brush_parser::ast::TestExpr) -> bool {
    use brush_parser::ast::{BinaryPredicate as B, TestExpr as T, UnaryPredicate as U};
    match expr {
        T::And(a, b) | T::Or(a, b) => emulated(a) && emulated(b),
        T::Not(a) | T::Parenthesized(a) => emulated(a),
        T::UnaryTest(op, _) => !matches!(
            op,
            U::FdIsOpenTerminal
                | U::FileExistsAndIsBlockSpecialFile
                | U::FileExistsAndIsCharSpecialFile
                | U::FileExistsAndIsFifo
                | U::FileExistsAndIsSocket
                | U::FileExistsAndModifiedSinceLastRead
                | U::FileExistsAndOwnedByEffectiveGroupId
                | U::ShellOptionEnabled
                | U::ShellVariableIsSetAndAssigned
                | U::ShellVariableIsSetAndNameRef
        ),
        T::BinaryTest(op, _, _) => !matches!(
            op,
            B::FilesReferToSameDeviceAndInodeNumbers
                | B::LeftFileIsNewerOrExistsWhenRightDoesNot
                | B::LeftFileIsOlderOrDoesNotExistWhenRightDoes
                | B::StringMatchesRegex
                | B::StringContainsSubstring
        ),
        _ => true,
    }
}

pub(super) fn eval_test(ctx: &Ctx, expr: &brush_parser::ast::TestExpr) -> bool {
    use brush_parser::ast::{BinaryPredicate as B, TestExpr as T, UnaryPredicate as U};
    match expr {
        T::False => false,
        T::Literal(s) => !s.is_empty(),
        T::And(a, b) => eval_test(ctx, a) && eval_test(ctx, b),
        T::Or(a, b) => eval_test(ctx, a) || eval_test(ctx, b),
        T::Not(a) => !eval_test(ctx, a),
        T::Parenthesized(a) => eval_test(ctx, a),
        T::UnaryTest(op, s) => {
            let meta = stat_path(ctx, s);
            if let Some(answer) = crate::unix::common_unary_test(op, s, meta.as_ref().ok()) {
                return answer;
            }
            match op {
                U::FileExistsAndIsSetuid => meta.is_ok_and(|m| m.mode & 0o4000 != 0),
                U::FileExistsAndIsSetgid => meta.is_ok_and(|m| m.mode & 0o2000 != 0),
                U::FileExistsAndHasStickyBit => meta.is_ok_and(|m| m.mode & 0o1000 != 0),
                U::FileExistsAndOwnedByEffectiveUserId => meta.is_ok_and(|m| m.uid == ctx.uid),
                _ => false,
            }
        }
        T::BinaryTest(op, a, b) => {
            let num = |s: &str| s.trim().parse::<i64>().unwrap_or(0);
            match op {
                B::StringExactlyMatchesString | B::StringExactlyMatchesPattern => a == b,
                B::StringDoesNotExactlyMatchString | B::StringDoesNotExactlyMatchPattern => a != b,
                B::LeftSortsBeforeRight => a < b,
                B::LeftSortsAfterRight => a > b,
                B::ArithmeticEqualTo => num(a) == num(b),
                B::ArithmeticNotEqualTo => num(a) != num(b),
                B::ArithmeticLessThan => num(a) < num(b),
                B::ArithmeticLessThanOrEqualTo => num(a) <= num(b),
                B::ArithmeticGreaterThan => num(a) > num(b),
                B::ArithmeticGreaterThanOrEqualTo => num(a) >= num(b),
                _ => false,
            }
        }
    }
}
