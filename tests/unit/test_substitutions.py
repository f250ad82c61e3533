"""Substitutions: where the sentence says something else in the question's slot."""

from __future__ import annotations

import pytest

from qa.features import _substitutions


@pytest.mark.parametrize(("question", "sentence", "expected"), [
    # between two shared stretches
    ("中国出口信用保险公司浙江分公司在哪里签约？", "中国出口信用保险公司江苏分公司在南京签约。", (1, 0, 1, 0)),
    ("海外江苏商会2021年捐赠了多少？", "海外江苏商会2020年累计捐赠款物。", (1, 1, 0, 0)),
    ("江北区委统战部部长是谁？", "江北区委统战部副部长楼卫星说。", (0, 0, 0, 1)),
    # the question opens with its own place, the sentence has another before the shared stretch
    ("余姚市基层商会共同搭建了什么平台？", "慈溪市基层商会担当“政治前哨”，共同搭建新生代企业党建工作平台。",
     (1, 0, 1, 0)),
    ("浙江省工商联交出的一份什么成绩单？", "这是进入新时代，宁波市工商联交出的一份成绩单。", (1, 0, 1, 0)),
    # the same opening: nothing substituted; a question word opening: not a slot
    ("慈溪市基层商会共同搭建了什么平台？", "慈溪市基层商会共同搭建新生代企业党建工作平台。", (0, 0, 0, 0)),
    ("哪个城市的基层商会共同搭建了平台？", "慈溪市基层商会共同搭建新生代企业党建工作平台。", (0, 0, 0, 0)),
    # the sentence starts with the shared stretch: nothing before it to compare
    ("余姚市基层商会搭建了什么？", "基层商会搭建了平台。", (0, 0, 0, 0)),
])
def test_substitutions(question, sentence, expected):
    assert _substitutions(question, sentence) == tuple(float(v) for v in expected)
