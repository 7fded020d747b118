"""The one exception the stack raises on purpose."""


class StackError(RuntimeError):
    """The reference deployment could not do what was asked.

    Messages are one line and never carry secrets: the CLI prints them as they are.
    """
