"""Label config parsing: control tags, options, unsupported tags, unsafe XML."""

import pytest

from plugin.labelconfig import LabelConfigError, parse_label_config

CONFIG = """
<View>
  <Header value="Look"/>
  <Image name="img" value="$image"/>
  <Text name="txt" value="$text"/>
  <RectangleLabels name="box" toName="img" canRotate="true">
    <Label value="Car" background="red"/><Label value="Van" alias="van"/>
  </RectangleLabels>
  <Rectangle name="rect" toName="img"/>
  <Labels name="img_labels" toName="img"><Label value="Tree"/></Labels>
  <Labels name="ner" toName="txt" choice="multiple"><Label value="PER"/></Labels>
  <Choices name="single" toName="txt"><Choice value="a"/><Choice value="b"/></Choices>
  <Choices name="multi" toName="txt" choice="multiple"><Choice value="x"/></Choices>
  <Taxonomy name="tax" toName="txt"><Choice value="Animal"><Choice value="Cat"/></Choice></Taxonomy>
  <Rating name="stars" toName="txt" maxRating="5"/>
  <Number name="count" toName="img"/>
  <TextArea name="notes" toName="txt"/>
  <DateTime name="when" toName="txt" only="date"/>
  <Choices name="region_attr" toName="img" perRegion="true"><Choice value="z"/></Choices>
  <Relations><Relation value="near"/></Relations>
  <Ellipse name="ell" toName="img"/>
  <Labels name="audio_labels" toName="snd"><Label value="speech"/></Labels>
  <Audio name="snd" value="$audio"/>
</View>
"""


def test_parse_label_config_reads_controls_and_options():
    config = parse_label_config(CONFIG)
    assert set(config.controls) == {
        "box", "rect", "img_labels", "ner", "single", "multi", "tax", "stars", "count", "notes", "when",
    }  # fmt: skip
    box = config.controls["box"]
    assert (box.tag, box.to_name, box.object_tag, box.labels) == (
        "rectanglelabels",
        ("img",),
        "image",
        ("Car", "van"),
    )
    assert box.attrs["canrotate"] == "true"
    assert not config.controls["single"].multiple
    assert config.controls["multi"].multiple and config.controls["ner"].multiple
    assert config.controls["tax"].labels == ("Animal", "Cat") and config.controls["tax"].multiple
    assert config.controls["stars"].attrs["maxrating"] == "5"
    assert config.objects == {"img": "image", "txt": "text", "snd": "audio"}


def test_parse_label_config_reports_unsupported_tags_by_name():
    skipped = {(u.tag, u.name) for u in parse_label_config(CONFIG).unsupported}
    assert skipped == {
        ("relations", None),
        ("ellipse", "ell"),
        ("labels", "audio_labels"),
        ("choices", "region_attr"),
    }


def test_parse_label_config_tolerates_unknown_tags_and_missing_names():
    config = parse_label_config('<View><Sparkle name="s" toName="x"/><Choices toName="t"/></View>')
    assert not config.controls
    assert [(u.tag, u.name) for u in config.unsupported] == [("sparkle", "s"), ("choices", None)]


@pytest.mark.parametrize(
    "xml",
    [
        "<View>",
        '<!DOCTYPE v [<!ENTITY a "aaaa">]><View><Text name="t" value="&a;"/></View>',
        '<!DOCTYPE v [<!ENTITY e SYSTEM "file:///etc/passwd">]><View>&e;</View>',
    ],
)
def test_parse_label_config_refuses_malformed_or_unsafe_xml(xml):
    with pytest.raises(LabelConfigError):
        parse_label_config(xml)
