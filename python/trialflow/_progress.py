"""Progress display: a tqdm bar (``tqdm.auto``, so notebooks get a widget) when tqdm is
installed, a plain line on stderr otherwise, or the caller's own callable."""

import sys


class _TextBar:
    def __init__(self, label):
        self._label = label
        self._shown = False

    def __call__(self, done, total):
        percent = 100.0 * done / total if total else 100.0
        sys.stderr.write(f"\r{self._label}: {done}/{total} tasks ({percent:.0f}%)")
        sys.stderr.flush()
        self._shown = True

    def close(self):
        if self._shown:
            sys.stderr.write("\n")
            sys.stderr.flush()


class _TqdmBar:
    def __init__(self, tqdm, label):
        # The bar appears only for runs that last: short calls stay quiet.
        self._bar = tqdm(total=None, desc=label, unit="task", delay=0.5)

    def __call__(self, done, total):
        if self._bar.total != total:
            self._bar.total = total
        self._bar.n = done
        self._bar.refresh()

    def close(self):
        self._bar.close()


class _Callback:
    def __init__(self, function):
        self._function = function

    def __call__(self, done, total):
        self._function(done, total)

    def close(self):
        pass


def _interactive():
    try:
        shell = get_ipython()  # type: ignore[name-defined]  # noqa: F821
        return shell is not None
    except NameError:
        return bool(getattr(sys.stderr, "isatty", lambda: False)())


def progress_reporter(progress, label):
    """What to hand the native call for ``progress``: None (no display), or a callable
    ``(done, total)`` with a ``close()``.

    ``None`` means automatic: a bar in terminals and notebooks, nothing in scripts whose
    stderr is redirected; ``True`` always shows one, ``False`` never does, and a callable
    receives ``(tasks done, tasks total)`` on the calling thread.
    """
    if progress is False:
        return None
    if callable(progress) and progress is not True:
        return _Callback(progress)
    if progress is None and not _interactive():
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _TextBar(label)
    return _TqdmBar(tqdm, label)
