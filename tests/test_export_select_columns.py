"""splitSelectMultiples=true: which 0/1 columns a select multiple gets, and in which order.

Central (lib/model/query/submissions.js getSelectMultipleValuesForExport, lib/data/briefcase.js) adds,
after the field's own column, one `{field}/{value}` column per distinct value found in the exported
submissions (split on whitespace): values the form's choices do not list get a column too, choices no
one picked get none. Its values come from `ORDER BY path, value` in PostgreSQL, so their order is its
database's collation; Central's own tests use lowercase letters only, where every collation agrees.
Hamlet sorts by code point whatever the database, which is that same order for such values (the
usual XLSForm choice names); mixed case is where a Central on `en_US.utf8` (its Docker image's
default) differs: it puts `smartphone` before `Smartphone`."""
from __future__ import annotations

from central import META

FORM = """<?xml version="1.0"?>
<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml" xmlns:jr="http://openrosa.org/javarosa">
  <h:head><h:title>Dịch vụ số</h:title><model>
    <instance><data id="dich_vu_so" version="1">
      <dich_vu/>
      <nguoi jr:template=""><ten/><thiet_bi/></nguoi>
      <meta><instanceID/></meta>
    </data></instance>
    <bind nodeset="/data/dich_vu" type="string"/>
    <bind nodeset="/data/nguoi/ten" type="string"/>
    <bind nodeset="/data/nguoi/thiet_bi" type="string"/>
    <bind nodeset="/data/meta/instanceID" type="string" readonly="true()" jr:preload="uid"/>
  </model></h:head>
  <h:body>
    <select ref="/data/dich_vu"><label>Dịch vụ</label>
      <item><label>Zalo</label><value>zalo</value></item>
      <item><label>Facebook</label><value>facebook</value></item>
      <item><label>Khác</label><value>other</value></item>
    </select>
    <repeat nodeset="/data/nguoi">
      <input ref="/data/nguoi/ten"><label>Tên</label></input>
      <select ref="/data/nguoi/thiet_bi"><label>Thiết bị</label>
        <item><label>Điện thoại thông minh</label><value>smartphone</value></item>
        <item><label>Điện thoại phổ thông</label><value>feature_phone</value></item>
        <item><label>Không có</label><value>none</value></item>
      </select>
    </repeat>
  </h:body>
</h:html>"""


def household(instance_id: str, services: str, people: list[tuple[str, str]]) -> str:
    roster = "".join(f"<nguoi><ten>{name}</ten><thiet_bi>{devices}</thiet_bi></nguoi>" for name, devices in people)
    return (f'<data id="dich_vu_so" version="1"><dich_vu>{services}</dich_vu>{roster}'
            f"<meta><instanceID>{instance_id}</instanceID></meta></data>")


def test_a_column_per_value_submitted_in_code_point_order_choices_listed_or_not(central, alice):
    central.publish("dich_vu_so", FORM)
    # 'Other' and 'vnpt_money' are not among the form's choices (an older form, a typing client);
    # 'facebook' is, but no one chose it.
    central.submit("dich_vu_so", household("h1", "zalo Other  vnpt_money", [("An", "smartphone"),
                                                                           ("Bình", "feature_phone none")]), api=alice)
    central.submit("dich_vu_so", household("h2", "zalo", [("Chi", "Smartphone")]), api=alice)
    files = central.csv_files("dich_vu_so", "?splitSelectMultiples=true", api=alice)
    assert files["dich_vu_so.csv"].split("\n")[0] == (
        f"SubmissionDate,dich_vu,dich_vu/Other,dich_vu/vnpt_money,dich_vu/zalo,meta-instanceID,{META}")
    assert [r.split(",")[1:5] for r in files["dich_vu_so.csv"].split("\n")[1:-1]] == [
        ["zalo", "0", "0", "1"], ["zalo Other  vnpt_money", "1", "1", "1"]]
    assert files["dich_vu_so-nguoi.csv"] == (
        "ten,thiet_bi,thiet_bi/Smartphone,thiet_bi/feature_phone,thiet_bi/none,thiet_bi/smartphone,PARENT_KEY,KEY\n"
        "Chi,Smartphone,1,0,0,0,h2,h2/nguoi[1]\n"
        "An,smartphone,0,0,0,1,h1,h1/nguoi[1]\n"
        "Bình,feature_phone none,0,1,1,0,h1,h1/nguoi[2]\n")
