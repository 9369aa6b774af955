"""The OData service document and the `$metadata` EDMX (CSDL 4.0) of a form, laid out line for line
as Central lays them out (odk-protocol §7.3), so clients that cache or compare them see no difference.

Submission metadata is the complex type `org.opendatakit.submission.metadata`; the form's own types
live in `org.opendatakit.user.<formId>`: `Submissions` and one EntityType per repeat (with its
parent's id), a ComplexType per group, repeats as NavigationProperties, leaf types per EDM_TYPES."""
from __future__ import annotations

from xml.sax.saxutils import quoteattr

from server.odata.schema import FormView, Node, sanitize
from server.odata.values import edm_type

FQDN_ROOT = "org.opendatakit.user"

# The `__system` fields of every submission, as Central types them.
_METADATA_FIELDS = (
    ("submissionDate", "Edm.DateTimeOffset"), ("updatedAt", "Edm.DateTimeOffset"),
    ("deletedAt", "Edm.DateTimeOffset"), ("submitterId", "Edm.String"), ("submitterName", "Edm.String"),
    ("attachmentsPresent", "Edm.Int64"), ("attachmentsExpected", "Edm.Int64"),
    ("status", "org.opendatakit.submission.Status"), ("reviewState", "org.opendatakit.submission.ReviewState"),
    ("deviceId", "Edm.String"), ("edits", "Edm.Int64"), ("formVersion", "Edm.String"),
)
_METADATA_ENUMS = {
    "Status": ("notDecrypted", "missingEncryptedFormData"),
    "ReviewState": ("hasIssues", "edited", "rejected", "approved"),
}


def _property(name: str, edm: str) -> str:
    """One property line of a type, at the indentation every type's properties have."""
    return f'        <Property Name="{name}" Type="{edm}"/>'


_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">\n'
    "  <edmx:DataServices>\n"
    '    <Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="org.opendatakit.submission">\n'
    '      <ComplexType Name="metadata">\n'
    + "".join(_property(name, edm) + "\n" for name, edm in _METADATA_FIELDS)
    + "      </ComplexType>\n"
    + "".join(f'      <EnumType Name="{name}">\n' + "".join(f'        <Member Name="{m}"/>\n' for m in members)
              + "      </EnumType>\n" for name, members in _METADATA_ENUMS.items())
    + "    </Schema>\n"
)

# What the Submissions entity set can do (Capabilities vocabulary), as Central declares it.
_CAPABILITIES_BEFORE = """          <Annotation Term="Org.OData.Capabilities.V1.ConformanceLevel" EnumMember="Org.OData.Capabilities.V1.ConformanceLevelType/Minimal"/>
          <Annotation Term="Org.OData.Capabilities.V1.BatchSupported" Bool="false"/>
          <Annotation Term="Org.OData.Capabilities.V1.CountRestrictions">
            <Record><PropertyValue Property="Countable" Bool="true"/></Record>
          </Annotation>
          <Annotation Term="Org.OData.Capabilities.V1.FilterFunctions">
            <Record>
              <PropertyValue Property="NonCountableProperties">
                <Collection>
                  <String>eq</String>
                </Collection>
              </PropertyValue>
            </Record>
          </Annotation>
          <Annotation Term="Org.OData.Capabilities.V1.FilterFunctions">
            <Record>
              <PropertyValue Property="Filterable" Bool="true"/>
              <PropertyValue Property="RequiresFilter" Bool="false"/>
              <PropertyValue Property="NonFilterableProperties">
                <Collection>
"""
_CAPABILITIES_AFTER = """                </Collection>
              </PropertyValue>
            </Record>
          </Annotation>
          <Annotation Term="Org.OData.Capabilities.V1.SortRestrictions">
            <Record><PropertyValue Property="Sortable" Bool="false"/></Record>
          </Annotation>
          <Annotation Term="Org.OData.Capabilities.V1.ExpandRestrictions">
            <Record><PropertyValue Property="Expandable" Bool="false"/></Record>
          </Annotation>
"""


def service_document(view: FormView, service_root: str) -> dict:
    """`service_root`: the absolute URL of `….svc`."""
    return {
        "@odata.context": f"{service_root}/$metadata",
        "value": [{"name": name, "kind": "EntitySet", "url": name} for name in view.tables],
    }


def _fqdn(xml_form_id: str) -> str:
    return f"{FQDN_ROOT}.{sanitize(xml_form_id)}"


def _type_name(node: Node) -> str:
    """A group's or repeat's type name: its whole OData path joined by dots."""
    return node.odata_path[1:].replace("/", ".")


def edmx(view: FormView) -> str:
    fqdn = _fqdn(view.xml_form_id)
    entities: list[tuple[str, list[str], bool, list[str]]] = []   # name, property lines, primary, names
    complexes: list[tuple[str, list[str]]] = []

    def properties(container: Node) -> tuple[list[str], list[str]]:
        lines, names = [], []
        for child in container.children:
            names.append(child.key)
            if child.type == "repeat":
                lines.append(f'        <NavigationProperty Name="{child.key}" '
                             f'Type="Collection({fqdn}.Submissions.{_type_name(child)})"/>')
            elif child.type == "structure":
                lines.append(_property(child.key, f"{fqdn}.{_type_name(child)}"))
            else:
                lines.append(_property(child.key, edm_type(child.type)))
        return lines, names

    def walk(container: Node) -> None:
        # Types appear in the order their fields do, entity types (repeats) and complex types (groups)
        # each in their own list.
        for child in container.children:
            if child.type == "structure":
                complexes.append((_type_name(child), properties(child)[0]))
                walk(child)
            elif child.type == "repeat":
                table = child.table
                assert table is not None, "form_view gives every repeat its table"
                lines, names = properties(child)
                entities.append((table.name, [_property(table.parent_key, "Edm.String")] + lines, False, names))
                walk(child)

    lines, names = properties(view.root)
    entities.append(("Submissions", [_property("__system", "org.opendatakit.submission.metadata")] + lines,
                     True, names))
    walk(view.root)
    # Submissions first, then the repeats in document order (walk() appended them after it).
    out = [_HEAD, f'    <Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="{fqdn}">\n']
    for name, props, _, _ in entities:
        out.append(f'      <EntityType Name="{name}">\n')
        out.append('        <Key><PropertyRef Name="__id"/></Key>\n')
        out.append(_property("__id", "Edm.String") + "\n")
        out.extend(p + "\n" for p in props)
        out.append("      </EntityType>\n")
    for name, props in complexes:
        out.append(f'      <ComplexType Name="{name}">\n')
        out.extend(p + "\n" for p in props)
        out.append("      </ComplexType>\n")
    out.append(f"      <EntityContainer Name={quoteattr(view.xml_form_id)}>\n")
    for name, _, primary, names in entities:
        out.append(f'        <EntitySet Name="{name}" EntityType="{fqdn}.{name}">\n')
        if primary:
            out.append(_CAPABILITIES_BEFORE)
            out.extend(f"                  <PropertyPath>{n}</PropertyPath>\n" for n in names)
            out.append(_CAPABILITIES_AFTER)
        out.append("        </EntitySet>\n")
    out.append("      </EntityContainer>\n    </Schema>\n  </edmx:DataServices>\n</edmx:Edmx>")
    return "".join(out)
