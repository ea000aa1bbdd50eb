#!/usr/bin/python3
"""promcheck.py: validate Prometheus text exposition format 0.0.4.

Usage: promcheck.py [FILE | -]      (standard input when FILE is - or absent)

Checks, beyond the grammar of the format (metric and label names, quoted
label values with only the \\\\ \\" \\n escapes, float values, optional
integer timestamps, a final newline):

  * every family has exactly one # HELP (non-empty) and one # TYPE line, both
    before its first sample, and its samples form one group;
  * every sample belongs to a declared family (histogram samples through
    _bucket, _sum and _count, summaries through _sum and _count);
  * counters are named *_total and are never negative or NaN;
  * no series (name plus label set) appears twice, no label twice in a sample;
  * each histogram series has _bucket samples with le increasing strictly and
    ending at +Inf, cumulative counts that never decrease, and a _sum and a
    _count, the _count equal to the +Inf bucket.

Prints one problem per line ("LINE: message") and exits 1 when there is
any, 0 when the text is valid, 2 on a usage or read error. Standard library
only, so integration tests can run it with /usr/bin/python3.
"""

import math
import re
import sys

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
SPECIAL = {"NaN": math.nan, "+Inf": math.inf, "-Inf": -math.inf, "Inf": math.inf}
TIMESTAMP = re.compile(r"-?[0-9]+")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


def parse_float(text):
    """The value of a sample value or le label, or None when malformed."""
    if text in SPECIAL:
        return SPECIAL[text]
    if FLOAT.fullmatch(text):
        return float(text)
    return None


class Family:
    def __init__(self, name):
        self.name = name
        self.help = None
        self.type = None
        self.sampled = False
        self.reported_undeclared = False
        # histogram: label set without le -> {"buckets": [(le, value, line)], "sum", "count"}
        self.groups = {}


class Checker:
    def __init__(self):
        self.problems = []
        self.families = {}
        self.series = set()
        self.current = None  # family whose samples came last

    def problem(self, line, msg):
        self.problems.append("%s: %s" % (line, msg))

    def family(self, name):
        fam = self.families.get(name)
        if fam is None:
            fam = self.families[name] = Family(name)
        return fam

    # ---- comment lines ----------------------------------------------------

    def comment(self, no, line):
        body = line[1:].lstrip(" \t")
        parts = body.split(None, 1)
        if not parts or parts[0] not in ("HELP", "TYPE"):
            return  # an ordinary comment
        keyword = parts[0]
        rest = parts[1] if len(parts) > 1 else ""
        m = METRIC_NAME.match(rest)
        if not m:
            self.problem(no, "# %s without a valid metric name" % keyword)
            return
        name = m.group(0)
        after = rest[m.end():]
        if after and after[0] not in " \t":
            self.problem(no, "# %s: invalid metric name %r" % (keyword, rest.split()[0]))
            return
        fam = self.family(name)
        if fam.sampled:
            self.problem(no, "# %s for %s after its samples" % (keyword, name))
        if keyword == "HELP":
            self.help_line(no, fam, after.lstrip(" \t"))
        else:
            self.type_line(no, fam, after.strip(" \t"))

    def help_line(self, no, fam, text):
        if fam.help is not None:
            self.problem(no, "second # HELP for %s" % fam.name)
        fam.help = text
        if not text.strip():
            self.problem(no, "empty HELP text for %s" % fam.name)
        i = 0
        while i < len(text):
            if text[i] == "\\":
                if i + 1 >= len(text) or text[i + 1] not in "\\n":
                    self.problem(no, "bad escape in HELP text of %s" % fam.name)
                i += 2
            else:
                i += 1

    def type_line(self, no, fam, text):
        if fam.type is not None:
            self.problem(no, "second # TYPE for %s" % fam.name)
        if text not in TYPES:
            self.problem(no, "unknown type %r for %s" % (text, fam.name))
            return
        fam.type = text
        if text == "counter" and not fam.name.endswith("_total"):
            self.problem(no, "counter %s is not named *_total" % fam.name)
        if text in ("histogram", "summary") and fam.name.endswith(("_bucket", "_sum", "_count")):
            self.problem(no, "%s %s has a reserved suffix" % (text, fam.name))

    # ---- sample lines -----------------------------------------------------

    def labels(self, no, line, i):
        """Parse {a="b",...} at line[i] ('{'). Returns (dict, next index) or None."""
        out = {}
        i += 1
        while True:
            while i < len(line) and line[i] in " \t":
                i += 1
            if i < len(line) and line[i] == "}":
                return out, i + 1
            m = LABEL_NAME.match(line, i)
            if not m:
                self.problem(no, "invalid label name at column %d" % (i + 1))
                return None
            name = m.group(0)
            i = m.end()
            while i < len(line) and line[i] in " \t":
                i += 1
            if i >= len(line) or line[i] != "=":
                self.problem(no, "expected '=' after label %s" % name)
                return None
            i += 1
            while i < len(line) and line[i] in " \t":
                i += 1
            if i >= len(line) or line[i] != '"':
                self.problem(no, "label %s: value is not quoted" % name)
                return None
            value, i = self.label_value(no, line, i + 1, name)
            if value is None:
                return None
            if name in out:
                self.problem(no, "label %s given twice" % name)
            if name.startswith("__"):
                self.problem(no, "label name %s is reserved (starts with __)" % name)
            out[name] = value
            while i < len(line) and line[i] in " \t":
                i += 1
            if i < len(line) and line[i] == ",":
                i += 1
            elif i >= len(line) or line[i] != "}":
                self.problem(no, "expected ',' or '}' after label %s" % name)
                return None

    def label_value(self, no, line, i, name):
        """Read an escaped label value up to its closing quote."""
        chars = []
        while i < len(line):
            c = line[i]
            if c == '"':
                return "".join(chars), i + 1
            if c == "\\":
                nxt = line[i + 1] if i + 1 < len(line) else ""
                if nxt not in ("\\", '"', "n"):
                    self.problem(no, "label %s: bad escape \\%s" % (name, nxt))
                    return None, i
                chars.append("\n" if nxt == "n" else nxt)
                i += 2
                continue
            chars.append(c)
            i += 1
        self.problem(no, "label %s: unterminated value" % name)
        return None, i

    def owner(self, name):
        """The declared family a sample name belongs to, or None."""
        fam = self.families.get(name)
        if fam is not None and fam.type in ("counter", "gauge", "untyped"):
            return fam
        if fam is not None and fam.type == "summary":
            return fam
        for suffix, kinds in (("_bucket", ("histogram",)), ("_sum", ("histogram", "summary")),
                              ("_count", ("histogram", "summary"))):
            if name.endswith(suffix):
                base = self.families.get(name[: -len(suffix)])
                if base is not None and base.type in kinds:
                    return base
        return fam

    def sample(self, no, line):
        m = METRIC_NAME.match(line)
        if not m:
            self.problem(no, "sample does not start with a valid metric name")
            return
        name = m.group(0)
        i = m.end()
        labels = {}
        if i < len(line) and line[i] == "{":
            parsed = self.labels(no, line, i)
            if parsed is None:
                return
            labels, i = parsed
        rest = line[i:]
        if not rest or rest[0] not in " \t":
            self.problem(no, "%s: expected a space before the value" % name)
            return
        fields = rest.split()
        if len(fields) not in (1, 2):
            self.problem(no, "%s: expected a value and an optional timestamp" % name)
            return
        value = parse_float(fields[0])
        if value is None:
            self.problem(no, "%s: value %r is not a float" % (name, fields[0]))
            return
        if len(fields) == 2 and not TIMESTAMP.fullmatch(fields[1]):
            self.problem(no, "%s: timestamp %r is not an integer" % (name, fields[1]))
        self.account(no, name, labels, value)

    def account(self, no, name, labels, value):
        fam = self.owner(name)
        if fam is None or fam.type is None:
            fname = fam.name if fam is not None else name
            f = self.family(fname)
            if not f.reported_undeclared:
                self.problem(no, "sample %s has no # TYPE line before it" % name)
                f.reported_undeclared = True
            return
        if fam.help is None and not fam.reported_undeclared:
            self.problem(no, "sample %s has no # HELP line before it" % name)
            fam.reported_undeclared = True
        if fam.sampled and self.current is not fam:
            self.problem(no, "samples of %s are not in one group" % fam.name)
        fam.sampled = True
        self.current = fam
        key = (name, tuple(sorted(labels.items())))
        if key in self.series:
            self.problem(no, "duplicate series %s%s" % (name, format_labels(labels)))
        self.series.add(key)
        if fam.type == "counter" and (math.isnan(value) or value < 0):
            self.problem(no, "counter %s has value %r" % (name, value))
        if fam.type == "histogram":
            self.histogram_sample(no, fam, name, labels, value)

    def histogram_sample(self, no, fam, name, labels, value):
        if name not in (fam.name + "_bucket", fam.name + "_sum", fam.name + "_count"):
            self.problem(no, "histogram sample %s lacks a _bucket, _sum or _count suffix" % name)
            return
        rest = dict(labels)
        le = rest.pop("le", None)
        group = fam.groups.setdefault(tuple(sorted(rest.items())),
                                      {"buckets": [], "sum": None, "count": None, "line": no})
        if name.endswith("_bucket"):
            if le is None:
                self.problem(no, "%s without an le label" % name)
                return
            bound = parse_float(le)
            if bound is None or math.isnan(bound):
                self.problem(no, "%s: le=%r is not a number" % (name, le))
                return
            group["buckets"].append((bound, value, no))
        elif le is not None:
            self.problem(no, "%s must not carry an le label" % name)
        elif name.endswith("_sum"):
            group["sum"] = value
        else:
            group["count"] = value

    # ---- whole input ------------------------------------------------------

    def finish_histograms(self):
        for fam in self.families.values():
            if fam.type != "histogram":
                continue
            for labels, g in fam.groups.items():
                where = "%s%s" % (fam.name, format_labels(dict(labels)))
                self.histogram_group(g["line"], where, g)

    def histogram_group(self, line, where, g):
        buckets = g["buckets"]
        if not buckets:
            self.problem(line, "histogram %s has no _bucket samples" % where)
        for (b0, v0, _), (b1, v1, n1) in zip(buckets, buckets[1:]):
            if b1 <= b0:
                self.problem(n1, "histogram %s: le %r does not increase" % (where, b1))
            if v1 < v0:
                self.problem(n1, "histogram %s: bucket count %r below the previous %r" % (where, v1, v0))
        if buckets and buckets[-1][0] != math.inf:
            self.problem(buckets[-1][2], "histogram %s: last bucket is not le=\"+Inf\"" % where)
        if g["sum"] is None:
            self.problem(line, "histogram %s has no _sum" % where)
        if g["count"] is None:
            self.problem(line, "histogram %s has no _count" % where)
        elif buckets and buckets[-1][0] == math.inf and buckets[-1][1] != g["count"]:
            self.problem(line, "histogram %s: _count %r != +Inf bucket %r" % (where, g["count"], buckets[-1][1]))

    def check(self, data):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            self.problem(0, "not UTF-8: %s" % e)
            return self.problems
        if text and not text.endswith("\n"):
            self.problem(text.count("\n") + 1, "last line does not end with a newline")
        for no, line in enumerate(text.split("\n"), 1):
            if "\r" in line:
                self.problem(no, "carriage return in line")
                line = line.replace("\r", "")
            if line.strip(" \t") == "":
                continue
            if line.startswith("#"):
                self.comment(no, line)
            else:
                self.sample(no, line)
        self.finish_histograms()
        return self.problems


def format_labels(labels):
    if not labels:
        return ""
    return "{" + ",".join('%s="%s"' % kv for kv in sorted(labels.items())) + "}"


def main(argv):
    if len(argv) > 2 or (len(argv) == 2 and argv[1] in ("-h", "--help")):
        sys.stderr.write("usage: promcheck.py [FILE | -]\n")
        return 2
    try:
        if len(argv) == 1 or argv[1] == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(argv[1], "rb") as f:
                data = f.read()
    except OSError as e:
        sys.stderr.write("promcheck: %s\n" % e)
        return 2
    problems = Checker().check(data)
    for p in problems:
        print(p)
    if problems:
        print("promcheck: %d problem%s" % (len(problems), "" if len(problems) == 1 else "s"))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
