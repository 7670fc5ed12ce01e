"""Planning a batch: the image files of a folder (or a list of URLs) and the output each
one goes to, with names that two inputs would share caught before anything runs."""

from __future__ import annotations

from collections.abc import Iterable

from docbin.batch.storage import LocalLocation, RemoteLocation
from docbin.batch.task import Task, failed_outcome
from docbin.errors import InputError, OutputError
from docbin.io import IMAGE_SUFFIXES, OUTPUT_SUFFIXES

Location = LocalLocation | RemoteLocation
#: Suffixes of files that can hold several pages.
MULTI_PAGE = (".tif", ".tiff")


def collect_images(folder: Location, recursive: bool, exclude: Location | None = None) -> list:
    """Image files of ``folder`` as (location, relative posix path), sorted; hidden files
    and folders, and ``exclude`` (the output folder) when it lies inside ``folder``, left
    out."""

    found = []
    for item, relative in folder.list_files(recursive):
        suffix = relative.rpartition(".")[2].lower()
        if "." not in relative or f".{suffix}" not in IMAGE_SUFFIXES:
            continue
        if any(part.startswith(".") for part in relative.split("/")):
            continue
        if exclude is not None and exclude.contains(item):
            continue
        found.append((item, relative))
    return sorted(found, key=lambda pair: pair[1])


def plan(pairs: Iterable[tuple[Location, str]], output: Location,
         format: str | None = None) -> list:
    """Tasks for (input, relative name) pairs: the output is ``output/<relative stem>``
    with the format's suffix. An output claimed twice (``page.png`` and ``page.jpg``)
    gives a failed :class:`Outcome` in place of the second task."""

    suffix = OUTPUT_SUFFIXES[format or "png"]
    entries, claimed = [], {}
    for index, (source, relative) in enumerate(pairs):
        folder, _, name = relative.rpartition("/")
        stem = name.rpartition(".")[0] if "." in name else name
        target = output.child(f"{folder}/{stem}{suffix}" if folder else f"{stem}{suffix}")
        task = Task(index, source, target, str(source))
        if str(target) in claimed:  # e.g. page.png and page.jpg
            entries.append(failed_outcome(task, f"{source}: its output {target} is also the "
                                          f"output of {claimed[str(target)]}; rename one of "
                                          "them"))
            continue
        claimed[str(target)] = source
        entries.append(task)
    return _page_collisions(entries, suffix)


def _page_collisions(entries: list, suffix: str) -> list:
    """Fail the file whose output is also a page of a multi-page input's output: page N of
    ``book.tif`` goes to ``book-pN.png``, which a file ``book-pN.png`` (or ``.jpg``) would
    write too. Only inputs that could hold pages are opened (their header only), and only
    when such a name is planned. A TIFF output holds every page in one file: no clash."""
    if suffix in (".tif", ".tiff"):
        return entries
    where = {str(entry.target): k for k, entry in enumerate(entries) if isinstance(entry, Task)}
    for entry in list(entries):
        if not isinstance(entry, Task) or entry.source.suffix.lower() not in MULTI_PAGE:
            continue
        prefix = str(entry.target.with_name(f"{entry.target.stem}-p"))
        clashes = {}
        for name in where:
            number = name[len(prefix):-len(suffix)] if name.endswith(suffix) else ""
            if name.startswith(prefix) and number.isdigit() and int(number) >= 1:
                clashes[name] = int(number)
        if not clashes:
            continue
        pages = entry.source.page_count()
        for name, number in clashes.items():
            if pages > 1 and number <= pages:
                other = entries[where[name]]
                entries[where[name]] = failed_outcome(
                    other, f"{other.source}: its output {name} is also page {number} of "
                    f"{entry.source}; rename one of them (or write TIFF: --format tiff)")
    return entries


def plan_folder(folder: Location, output: Location, *, recursive: bool,
                format: str | None = None) -> list:
    """Tasks for every image of ``folder`` into the folder ``output`` (tree mirrored).

    Raises
    ------
    OutputError
        ``output`` is a file, or the input folder itself.
    InputError
        ``folder`` holds no image.
    """

    if output.exists() and not output.is_dir():
        raise OutputError(f"{output} is a file; with a folder INPUT, OUTPUT must be a folder")
    if output.exists() and output.contains(folder) and folder.contains(output):
        raise OutputError(f"{output} is the input folder; choose another output folder so "
                          "the inputs stay untouched")
    sources = collect_images(folder, recursive, exclude=output)
    if not sources:
        hint = "" if recursive else "; pass --recursive to look in sub-folders"
        raise InputError(f"{folder}: no images found (looked for "
                         f"{', '.join(IMAGE_SUFFIXES)}){hint}")
    output.make_folder()
    return plan(sources, output, format)


def _relative(source: Location, base: Location) -> str:
    """The posix path of ``source`` inside the folder ``base``."""
    if isinstance(source, LocalLocation):
        return source.path.resolve().relative_to(base.path.resolve()).as_posix()
    return source.path[len(base.path.rstrip("/")):].strip("/")
