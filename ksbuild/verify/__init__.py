"""`doit verify`: regenerate every derived file from the committed state (or the working tree) in a
scratch copy, compare with what is committed, and report; the working tree is never touched."""
