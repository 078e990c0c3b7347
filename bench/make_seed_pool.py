"""Build a seed pool (JSON lines, the import_seeds format) from the real user prompts in
../shared/data/seed_pools/ (Chatbot Arena questions and InfiBench's Stack Overflow-derived ones).

The prompts carry no CodeArena subcategory, so each is classified the way CodeArena's own map
does it: the words of its cluster / question type are matched against the free-text task types
of ``codearena/tasktype_to_levels.json`` and the best match's (main, sub) pair is used. Prompts
with no match get a subcategory chosen by a hash of their id (marked in metadata), so the pool
still spreads over all 40 subcategories. The pool is written where you say, never into the repo.

    python bench/make_seed_pool.py --out /tmp/pool.jsonl [--repeat 1]
"""

import argparse
import csv
import hashlib
import json
import re
import sys
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
STOP = {"and", "the", "of", "for", "in", "to", "a", "with", "&", "on", "code", "programming"}


def words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9+#]+", text.lower()) if w not in STOP and len(w) > 1}


def classifier():
    taxonomy = json.loads(
        (
            Path(__file__).resolve().parents[1] / "annotation" / "data" / "codearena_taxonomy.json"
        ).read_text()
    )
    subs = {s["name"] for s in taxonomy["subcategories"]}
    levels = json.loads((SHARED / "codearena" / "tasktype_to_levels.json").read_text())
    table = []
    for task_type, pairs in levels.items():
        sub = next((p[1] for p in pairs if p[1] in subs), None)
        if sub:
            table.append((words(task_type), sub))
    ordered = sorted(subs)

    def classify(key: str, text: str) -> tuple[str, bool]:
        w = words(text)
        best, score = None, 0
        for tw, sub in table:
            s = len(w & tw)
            if s > score or (s == score and s and best is not None and sub < best):
                best, score = sub, s
        if best:
            return best, True
        digest = int(hashlib.sha256(key.encode()).hexdigest(), 16)
        return ordered[digest % len(ordered)], False

    return classify


def records():
    pools = SHARED / "seed_pools"
    for name in ["arena-hard-v0.1_question.jsonl", "arena-hard-v2.0_question.jsonl"]:
        for line in (pools / "arena_hard_auto" / name).open(encoding="utf-8"):
            q = json.loads(line)
            prompt = q.get("prompt") or q.get("turns", [{}])[0].get("content", "")
            yield (
                {
                    "id": f"arena-{q['uid']}",
                    "text": prompt,
                    "cluster": q.get("cluster") or q.get("subcategory") or "",
                    "metadata": {"source": name, "category": q.get("category")},
                },
                q.get("cluster") or prompt[:300],
            )
    meta = {}
    for line in (pools / "infibench" / "cases_dev_meta.jsonl").open(encoding="utf-8"):
        m = json.loads(line)
        meta[m["case_file"]] = m
    with (pools / "infibench" / "suite_v2.0.0_dev.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            m = meta.get(row["filename"], {})
            rec = {
                "id": f"infibench-{row['idx']}",
                "text": row["content_prompt"],
                "cluster": row["question_type"],
                "language": m.get("lang", ""),
                "metadata": {"source": "infibench suite_v2.0.0_dev"},
            }
            if m.get("stackoverflow_url"):
                rec["source_url"] = m["stackoverflow_url"]
            yield rec, f"{row['question_type']} {m.get('lang', '')} {row['content_prompt'][:300]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="Repeat the pool with suffixed ids and text (for load tests).",
    )
    args = parser.parse_args()
    classify = classifier()
    matched = total = 0
    with args.out.open("w", encoding="utf-8") as out:
        for copy in range(args.repeat):
            for rec, hint in records():
                rec = dict(rec)
                sub, by_map = classify(rec["id"], hint)
                rec["subcategory"] = sub
                rec["metadata"] = {
                    **rec["metadata"],
                    "classified_by": "tasktype map" if by_map else "hash",
                }
                if copy:
                    rec["id"] = f"{rec['id']}-{copy}"
                    rec["text"] = f"{rec['text']}\n\n(variant {copy})"
                out.write(json.dumps(rec, ensure_ascii=False) + "\n")
                matched += by_map
                total += 1
    print(
        f"wrote {total} seeds to {args.out} ({matched} classified by the task-type map)",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
