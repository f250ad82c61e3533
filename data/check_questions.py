#!/usr/bin/env python3
"""Sanity checks for our own seeds questions, data/seeds_fit.jsonl + data/seeds_report.jsonl
(stdlib only). The first 204 questions (s001-s204) were split by question (`qa.train.split_of`:
a hash of the id): the fit half is used for training, the report half only for reporting. A second
batch (s205-s298), written later on sentences no earlier question used, is fit only.

Run from anywhere:  python3 data/check_questions.py [questions.jsonl ...]

Checks
- every line is a JSON object with exactly the keys id, question, answers, evidence, doc, type, style;
- ids are unique (s001, s002, ...), questions are unique;
- type and style come from the allowed lists and agree with each other
  (unanswerable <-> near_miss/absent);
- answerable rows: doc exists, answers is a non-empty list of strings, every answer and the evidence
  occur in the document after removing ALL whitespace from both (the seeds are hard-wrapped and
  justified with spaces), and every answer occurs inside its evidence sentence;
- unanswerable rows: answers == [], a non-empty evidence (the near-miss sentence) occurs in its doc;
- near-miss / absent rows: the changed constraint is recorded below (NEAR_MISS) and its probe terms
  never occur together in one sentence of EITHER document, so the question really is unanswerable;
- english questions are mostly ASCII, traditional questions use traditional characters;
- no question is (nearly) a copy of /work/shared/dev_questions.jsonl;
- the composition minimums of the brief.
It prints counts by type, by style and type x style, and exits 1 on any failure.
"""
import collections
import difflib
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SEEDS = os.path.join(ROOT, "seeds")
QFILES = sys.argv[1:] or [os.path.join(HERE, f) for f in ("seeds_fit.jsonl", "seeds_report.jsonl")]
DEV = os.path.join(os.path.dirname(ROOT), "shared", "dev_questions.jsonl")

KEYS = {"id", "question", "answers", "evidence", "doc", "type", "style"}
TYPES = {"number", "date", "person", "place", "organization", "list", "definition", "reason",
         "unanswerable"}
STYLES = {"paraphrase", "lexical", "english", "traditional", "near_miss", "absent"}
ANSWERABLE_STYLES = {"paraphrase", "lexical", "english", "traditional"}
UNANSWERABLE_STYLES = {"near_miss", "absent"}

# id -> (what was changed / why absent, probe groups). Each probe group is a list of terms that
# must NOT all occur in one sentence of either seed document.
NEAR_MISS = {
    "s155": ("organisation: 中国出口信用保险公司江苏分公司 -> 浙江分公司", [["浙江分公司"], ["浙江", "信保"]]),
    "s156": ("year: 海外江苏商会 2020 年捐赠 -> 2021 年", [["2021", "捐赠"], ["2021", "海外江苏商会"]]),
    "s157": ("quantity noun: 防疫口罩 -> 防护服", [["防护服"]]),
    "s158": ("organisation: 江苏省工商联“海外江苏商会骨干培训班” -> 浙江", [["海外浙江商会"], ["浙江", "骨干培训班"]]),
    "s159": ("quantity noun: 海外江苏商会家数 (13家) -> 会员企业数", [["海外江苏商会", "会员企业"]]),
    "s160": ("organisation: 中国银行江苏省分行 -> 中国建设银行", [["建设银行"]]),
    "s161": ("role: 江北区委统战部副部长 -> 部长", [["江北区委统战部部长"]]),
    "s162": ("role: 宁波市工商联党组书记(陈少春)/党组副书记、副主席(陈彩月) -> 秘书长", [["宁波市工商联秘书长"], ["市工商联秘书长"], ["市工商联", "秘书长"]]),
    "s163": ("noun: 劳动争议纠纷 -> 医疗纠纷", [["医疗纠纷"], ["医疗", "调解"]]),
    "s164": ("year: 截至2020年底 -> 截至2021年底", [["2021年底"], ["2021", "象山"]]),
    "s165": ("role: 大连市委统战部副部长 -> 部长", [["大连市委统战部部长"]]),
    "s166": ("role: 中山区工商联主席 -> 秘书长", [["中山区", "秘书长"]]),
    "s167": ("role: 武汉市工商联副主席 -> 主席", [["武汉市工商联主席"]]),
    "s168": ("role: 武汉国际合作商会办公室主任 -> 会长", [["武汉国际合作商会", "会长"]]),
    "s169": ("organisation type: 律师事务所 -> 会计师事务所", [["会计师"]]),
    "s170": ("organisation: 服装业商会 -> 纺织业商会", [["纺织业商会"]]),
    "s171": ("place: 宁波市《实施办法》 -> 温州市", [["温州"]]),
    "s172": ("level: 1个省级试点6个市级试点 -> 国家级试点", [["国家级"]]),
    "s173": ("role: 武汉市同心律师服务团副团长 -> 团长", [["服务团团长"]]),
    "s174": ("meeting: 全国工商联十一届十次常委会 -> 十一届九次", [["十一届九次"]]),
    "s175": ("quantity noun: 工业总产值 -> 服务业总产值", [["服务业总产值"], ["服务业", "产值"]]),
    "s176": ("organisation: 骆驼商会党委 -> 工会", [["工会"]]),
    "s177": ("phase: 产业引导基金一期/二期 -> 三期", [["三期"]]),
    "s178": ("quantity noun: 北仑压铸模产值占比(半壁江山) -> 年产值金额", [["模", "产值", "亿"]]),
    "s179": ("standard level: 压铸模国家标准 -> 行业标准", [["行业标准"]]),
    "s180": ("role: 北仑区压铸模具行业协会会长 -> 创始人", [["创始人"], ["创办"]]),
    "s181": ("year: 2020年3月29日 -> 2021年3月29日", [["2021", "习近平"], ["2021", "北仑"]]),
    "s182": ("year: 2021年 -> 2022年 (宁波大学科技学院合作)", [["2022", "公牛学院"], ["2022", "宁波大学"]]),
    "s183": ("noun: 骆驼商会累计捐款 -> 捐物", [["骆驼", "捐物"]]),
    "s184": ("quantity noun: 西坞农民增收金额 -> 就业人数", [["西坞", "就业"]]),
    "s185": ("place: 白沙商会结对贵州册亨 -> 贵州黄平县", [["白沙商会", "黄平"], ["直销店", "黄平"]]),
    "s186": ("place: 向宁波市各级慈善机构捐款 -> 杭州市", [["杭州"]]),
    "s187": ("quantity noun: 帮扶414个村 -> 户", [["帮扶", "户"]]),
    "s188": ("place: 宁波全市156个乡镇街道 -> 杭州", [["杭州"]]),
    "s189": ("quantity noun: 宁波民营经济经营主体户数 -> 从业人员数", [["宁波", "从业人员"]]),
    "s190": ("role: 潘火街道商会秘书长 -> 会长", [["潘火", "会长"]]),
    # absent: the documents never give this
    "s191": ("absent: signing date (only 近日)", [["江苏信保", "月", "日签"]]),
    "s192": ("absent: 江苏信保 officers", [["总经理"]]),
    "s193": ("absent: 日本无锡商会 officers", [["无锡商会", "会长"]]),
    "s194": ("absent: size of 宁波商会国贸大厦", [["国贸大厦", "层"]]),
    "s195": ("absent: 骆驼商会 president", [["骆驼", "会长"]]),
    "s196": ("absent: founding year of 九龙湖商会", [["九龙湖", "成立"]]),
    "s197": ("absent: 白小T headquarters", [["总部"]]),
    "s198": ("absent: date of the Dalian joint meeting (only 日前)", [["联席会议", "月"]]),
    "s199": ("absent: size of the 匠心智库 team", [["匠心智库", "名"]]),
    "s200": ("absent: amount of the 学前学会普通话 donation", [["学前学会普通话", "元"]]),
    "s201": ("absent: dean of 慈星智能产业学院", [["院长"]]),
    "s202": ("absent: number of 海曙金融服务超市 branches", [["分店", "家"]]),
    "s203": ("absent: chairman of 宁波赛尔集团", [["董事长"]]),
    "s204": ("absent: founding year of 象山县商会互助资金会", [["互助资金会", "成立"]]),
    # a second batch (s205-s298), written later on sentences no earlier question used; fit only
    's205': ('year: 今年8月 -> 去年8月', [["去年8月"], ["去年", "万所联万会"]]),
    's206': ('year: plan made after the 2020 COVID outbreak (no year in sentence) -> 2019', [["2019", "调研评估"], ["2019", "江苏省工商联"]]),
    's207': ('year: pandemic-period (2020/2021) work -> 2019', [["2019", "帮扶举措"], ["2019", "江苏"]]),
    's208': ('year/period: 两年来 (since the 2019 实施办法) -> 2018年以来', [["2018", "试点单位"], ["2018", "实施办法"]]),
    's209': ('place: 宁波(市工商联) -> 杭州', [["杭州"]]),
    's210': ('place: 大连 -> 沈阳', [["沈阳"]]),
    's211': ('place: 宁波 -> 大连', [["大连", "镇级"], ["大连", "不稀奇"]]),
    's212': ('place: 江苏省工商联 -> Zhejiang (浙江省工商联)', [["浙江", "海外商会"], ["浙江", "双向机制"]]),
    's213': ('role: 市工商联主席(李延锋) -> 党组书记(李范忠)', [["党组书记", "政治建设地基"], ["李范忠", "政治建设"], ["党组书记", "服务本领"]]),
    's214': ('role: 会长秘书长队伍 -> 监事长队伍', [["监事长"]]),
    's215': ('role/speaker: 市工商联主席 -> 市委统战部部长', [["统战部部长", "转变发展模式"], ["统战部部长", "桥梁纽带"]]),
    's216': ('role: 市工商联主席 -> 市工商联秘书长', [["秘书长", "党史"], ["秘书长", "七一"]]),
    's217': ('organisation: 市律师协会 -> 市商务局', [["商务局"]]),
    's218': ('organisation: 江苏省工商联 -> 江苏省贸促会', [["贸促会", "双向机制"], ["贸促会", "海外商会"]]),
    's219': ('organisation: 江苏省工商联 -> 中国银行江苏省分行', [["中国银行", "调研评估"], ["中国银行", "导向"]]),
    's220': ('organisation: 江苏省工商联 -> 江苏省商务厅', [["商务厅", "朋友圈"], ["商务厅", "海外商会建设"]]),
    's221': ('counted noun: 45家商会和律所 -> 企业 (近2万家 refers to all enterprises served by lawyers)', [["企业", "长效化合作机制"]]),
    's222': ('measured quantity: 45家(机构数) -> 法律服务次数 (4万余次 is a cumulative figure for all Wuhan lawyers, not since August)', [["8月", "万余次"], ["长效化", "次"]]),
    's223': ('counted quantity: asks number of 法律讲堂 sessions (场); doc gives no count (近20场 is 宁海 恳谈会)', [["法律讲堂", "场"]]),
    's224': ('counted quantity: asks number of 服务平台 (doc: 各类; 四十余个 = 试点单位, 12项 = 服务清单)', [["搭建各类服务平台", "个"], ["服务平台", "个服务平台"]]),
    's225': ('ordinal: 五是 (last of five) -> 第六个方面', [["六是"], ["第六"]]),
    's226': ('ordinal: 三是 (last of three) -> 第四个方面 (四是 exists only in the Ningbo list)', [["李延锋", "四是"], ["大连", "四是"], ["转变发展模式", "四是"]]),
    's227': ('level: 镇级 -> 县级', [["县级", "基层商会"], ["县级", "不稀奇"]]),
    's228': ('phase: 相关试点单位 -> 第二批试点单位', [["第二批"]]),
    's229': ('absent: membership size of the praised town-level chamber never given', [["镇级", "会员企业"], ["高桥镇", "会员"]]),
    's230': ('absent: head of 武汉市司法局 never named', [["局长"]]),
    's231': ('absent: member-enterprise count of overseas Jiangsu chambers never given (only 13家 chambers)', [["海外江苏商会", "会员企业"], ["海外商会建设", "家"]]),
    's232': ('absent: chairman of 宁波市工商联 never named (only 党组书记陈少春, 副主席陈彩月)', [["宁波市工商联主席"]]),
    's233': ('absent: address of 江苏省工商联 never given', [["地址"], ["江苏省工商联", "位于"]]),
    's234': ('absent: founding year of 武汉市律师协会 never given', [["律师协会", "成立"]]),
    's281': ('year: unspecified (few years after 2015) -> 2020', [["2020", "修订"], ["2020", "国家标准"]]),
    's282': ('year: unspecified -> 2022', [["2022", "慈溪"], ["2022", "平台建设"]]),
    's284': ('place: 慈溪市 -> 余姚市', [["余姚", "新生代"], ["余姚", "政治定力"]]),
    's285': ('place: 宁波市工商联 -> 浙江省工商联', [["浙江省工商联", "成绩单"], ["浙江省工商联", "乡镇街道商会改革发展"]]),
    's286': ('role: 负责人 -> 工会主席', [["工会主席"]]),
    's287': ('role: 民营经济人士 -> 国有企业负责人', [["国有企业"]]),
    's288': ('organisation: 骆驼商会 -> 九龙湖商会', [["九龙湖", "志愿者"], ["九龙湖", "大真人"]]),
    's289': ('organisation: 北仑区压铸模具行业协会 -> 紧固件协会', [["紧固件", "抓手"], ["紧固件", "标准"]]),
    's290': ('organisation: 潘火街道商会 -> 姜山镇商会', [["姜山", "白小T"], ["姜山", "销售"]]),
    's291': ('quantity: 销售额(卖出10个亿) -> 利润', [["白小T", "利润"], ["白小T", "净利"]]),
    's292': ('quantity: 回访满意率(%) -> 回访人数', [["回访", "名"], ["回访", "当事人"], ["回访", "人次"]]),
    's293': ('ordinal: 首家 -> 第二家', [["第二家"], ["第二", "技术委员会"]]),
    's294': ('level: 国家标准 -> 省级标准', [["省级", "标准"], ["地方标准"]]),
    's295': ("person's name never given (only '负责人')", [["万盛", "姓名"], ["万盛", "董事长"], ["万盛", "总经理"]]),
    's296': ('team headcount never given', [["匠心智库", "名"], ["匠心智库", "成员"]]),
    's297': ("leader's name never given", [["慈溪", "主席"], ["慈溪", "会长"]]),
    's298': ('founding year never given', [["压铸模具行业协会", "成立"]]),
}

# characters that only exist in simplified / only in traditional script (common ones)
SIMPLIFIED_ONLY = set("这为说时们对个来与过还学长产区门问点从应关发经联业进么体会国东银贸浙苏宁乡镇"
                      "华认谁协样级计诉农积极纽带护间处务动务员设导签约机构项")
TRADITIONAL_ONLY = set("這為說時們對個來與過還學長產區門問點從應關發經聯業進麼體會國東銀貿浙蘇寧鄉鎮"
                       "華認誰協樣級計訴農積極紐帶護間處務動務員設導簽約機構項")
SIMPLIFIED_ONLY -= TRADITIONAL_ONLY  # 浙 and similar characters are the same in both scripts


def strip_ws(s):
    return re.sub(r"\s+", "", s)


def sentences(text):
    return [s for s in re.split(r"(?<=[。！？；])", text) if s]


def main():
    failures = []

    def fail(rid, msg):
        failures.append(f"{rid}: {msg}")

    docs = {}
    for name in sorted(os.listdir(SEEDS)):
        if name.endswith(".txt"):
            with open(os.path.join(SEEDS, name), encoding="utf-8") as f:
                docs[name] = strip_ws(f.read())
    all_sents = [s for t in docs.values() for s in sentences(t)]

    rows = []
    for qfile in QFILES:
        with open(qfile, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    fail(f"{qfile} line {n}", f"bad JSON: {e}")

    dev_questions = []
    if os.path.exists(DEV):
        with open(DEV, encoding="utf-8") as f:
            dev_questions = [json.loads(line)["question"] for line in f if line.strip()]

    seen_ids, seen_q = set(), {}
    for i, r in enumerate(rows, 1):
        rid = r.get("id", f"row {i}")
        if set(r) != KEYS:
            fail(rid, f"keys {sorted(r)} != {sorted(KEYS)}")
            continue
        if rid in seen_ids:
            fail(rid, "duplicate id")
        seen_ids.add(rid)
        if not re.fullmatch(r"s\d{3}", str(rid)):
            fail(rid, "id is not of the form s001")
        q = r["question"]
        if not isinstance(q, str) or not q.strip():
            fail(rid, "empty question")
            continue
        if q in seen_q:
            fail(rid, f"same question as {seen_q[q]}")
        seen_q[q] = rid
        typ, style = r["type"], r["style"]
        if typ not in TYPES:
            fail(rid, f"bad type {typ!r}")
        if style not in STYLES:
            fail(rid, f"bad style {style!r}")
        answers, ev, doc = r["answers"], r["evidence"], r["doc"]
        if not isinstance(answers, list) or not all(isinstance(a, str) and a for a in answers):
            fail(rid, "answers must be a list of non-empty strings")
            continue
        if not isinstance(ev, str) or not isinstance(doc, str):
            fail(rid, "evidence and doc must be strings")
            continue
        if typ == "unanswerable":
            if style not in UNANSWERABLE_STYLES:
                fail(rid, f"unanswerable row with style {style}")
            if answers != []:
                fail(rid, "unanswerable row must have answers == []")
            if ev:
                if doc not in docs:
                    fail(rid, f"unknown doc {doc!r}")
                elif strip_ws(ev) not in docs[doc]:
                    fail(rid, "near-miss evidence not found in doc")
            if rid not in NEAR_MISS:
                fail(rid, "no changed constraint / probe recorded in NEAR_MISS")
            else:
                for group in NEAR_MISS[rid][1]:
                    for s in all_sents:
                        if all(t in s for t in group):
                            fail(rid, f"probe {group} co-occurs in a document sentence: {s[:80]}")
        else:
            if style not in ANSWERABLE_STYLES:
                fail(rid, f"answerable row with style {style}")
            if doc not in docs:
                fail(rid, f"unknown doc {doc!r}")
                continue
            if not answers:
                fail(rid, "answerable row without answers")
            if not ev:
                fail(rid, "answerable row without evidence")
            text = docs[doc]
            if strip_ws(ev) not in text:
                fail(rid, "evidence not found in doc (whitespace removed)")
            for a in answers:
                if strip_ws(a) not in text:
                    fail(rid, f"answer {a!r} not found in doc")
                if strip_ws(a) not in strip_ws(ev):
                    fail(rid, f"answer {a!r} not inside its evidence")
        if style == "english":
            ascii_share = sum(c.isascii() for c in q) / len(q)
            if ascii_share < 0.6:
                fail(rid, f"english question is only {ascii_share:.0%} ASCII")
        elif (style != "english" and sum(c.isascii() and c.isalpha() for c in q) > 10
              and not (style in UNANSWERABLE_STYLES and sum(c.isascii() for c in q) / len(q) >= 0.6)):
            # (an unanswerable question may be asked in English too)
            fail(rid, "non-english question contains a lot of Latin text")
        if style == "traditional":
            simp = [c for c in q if c in SIMPLIFIED_ONLY]
            if simp or not any(c in TRADITIONAL_ONLY for c in q):
                fail(rid, f"traditional question contains simplified characters {simp}")
        for dq in dev_questions:
            ratio = difflib.SequenceMatcher(None, q, dq).ratio()
            if ratio >= 0.75:
                fail(rid, f"too close to dev question ({ratio:.2f}): {dq}")

    # composition minimums
    by_type = collections.Counter(r.get("type") for r in rows)
    by_style = collections.Counter(r.get("style") for r in rows)
    answerable = [r for r in rows if r.get("type") != "unanswerable"]
    need = [
        (len(rows) >= 170, f"total {len(rows)} >= 170"),
        (len(answerable) >= 125, f"answerable {len(answerable)} >= 125"),
        (by_type["unanswerable"] >= 40, f"unanswerable {by_type['unanswerable']} >= 40"),
        (by_style["near_miss"] >= 25, f"near_miss {by_style['near_miss']} >= 25"),
        (by_style["absent"] >= 10, f"absent {by_style['absent']} >= 10"),
        (by_style["english"] >= 15, f"english {by_style['english']} >= 15"),
        (by_style["traditional"] >= 10, f"traditional {by_style['traditional']} >= 10"),
    ]
    for t in sorted(TYPES - {"unanswerable"}):
        need.append((by_type[t] >= 10, f"type {t} {by_type[t]} >= 10"))
    for ok, msg in need:
        if not ok:
            fail("composition", msg)

    print(f"{len(rows)} rows, {len(answerable)} answerable, {by_type['unanswerable']} unanswerable")
    print("\nby type:")
    for t, n in sorted(by_type.items(), key=lambda x: -x[1]):
        print(f"  {t:13s} {n}")
    print("\nby style:")
    for s, n in sorted(by_style.items(), key=lambda x: -x[1]):
        print(f"  {s:13s} {n}")
    print("\ntype x style:")
    styles = ["paraphrase", "lexical", "english", "traditional", "near_miss", "absent"]
    print("  " + " " * 13 + "".join(f"{s[:10]:>11s}" for s in styles))
    tx = collections.Counter((r.get("type"), r.get("style")) for r in rows)
    for t in sorted(by_type):
        print(f"  {t:13s}" + "".join(f"{tx[(t, s)]:11d}" for s in styles))
    by_doc = collections.Counter(r.get("doc") or "(none)" for r in rows)
    print("\nby doc:")
    for d, n in sorted(by_doc.items()):
        print(f"  {d:28s} {n}")

    if failures:
        print(f"\n{len(failures)} FAILURE(S):")
        for m in failures:
            print("  " + m)
        return 1
    print("\nall checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
