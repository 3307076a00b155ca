"""catalog.rendering: the sandbox, its budget, YAML safety and the objects it returns."""

from __future__ import annotations

import time

import pytest

from catalog.parameters import validate_parameters
from catalog.rendering import RenderError, load_documents, render_manifests, render_text


def render(source: str, **parameters) -> str:
    return render_text(source, {"parameters": parameters, "instance": {"name": "x"}})


def render_error(source: str, **parameters) -> RenderError:
    started = time.monotonic()
    with pytest.raises(RenderError) as info:
        render(source, **parameters)
    assert time.monotonic() - started < 5, "a hostile template must fail fast"
    return info.value


def test_renders_the_chat_type(chat_version):
    values = validate_parameters(chat_version, None, {"admin_password": "correct horse battery", "replicas": 2})
    labels = {"app.kubernetes.io/instance": "chat-test", "app.kubernetes.io/managed-by": "servicebay"}
    objects = render_manifests(chat_version, values, instance_name="chat-test", namespace="team-chat", labels=labels)
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("Deployment", "chat-test"),
        ("Secret", "chat-test-admin"),
        ("Service", "chat-test"),
    ]
    deployment = objects[0]
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.acme.example/chat:1.4.2"
    assert deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] == {
        "cpu": "500m",
        "memory": "256Mi",
    }
    assert all(o["metadata"]["namespace"] == "team-chat" for o in objects)
    assert all(o["metadata"]["labels"]["app.kubernetes.io/instance"] == "chat-test" for o in objects)
    assert deployment["metadata"]["labels"]["app"] == "chat-test"  # the template's own labels stay


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "not allowed in a template"),
        ("{{ parameters.__class__ }}", "not allowed in a template"),
        ("{{ cycler.__init__.__globals__ }}", "not allowed in a template"),
        ("{{ parameters.update({'x': 1}) }}", "not allowed in a template"),
        ("{% include 'etc/passwd' %}", "include, import and extends are not available"),
        ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "too much work"),
        (
            "{% for a in parameters.l %}{% for b in parameters.l %}{% for c in parameters.l %}"
            "{% endfor %}{% endfor %}{% endfor %}",
            "too much work",
        ),
        ("{{ 'x' * 1000000000 }}", "grew beyond"),
        ("{{ 9 ** 9999999 }}", "number grew too large"),
        ("{{ 'x'|center(1000000000) }}", "too large"),
        ("{{ 'x'.ljust(1000000000) }}", "too large"),
        ("{{ '%0999999999d' % 1 }}", "padding"),
        ("{{ '{:>999999999}'.format(1) }}", "padding"),
        ("{% set a = 'x' * 1000 %}{{ a|replace('', a)|replace('', a) }}", "grew beyond"),
        (
            "{% set a = 'xxxxxxxxxxxxxxxx' %}" + "{% set a = a ~ a %}" * 40 + "{{ a|length }}",
            "grew beyond",
        ),
        ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(1) }}", "recurses too deeply"),
    ],
)
def test_sandbox_escapes_and_bombs_fail_fast(source, fragment):
    error = render_error(source, l=list(range(1000)))
    assert fragment in str(error), str(error)


def test_errors_name_the_template_line():
    error = render_error("a: 1\nb: {{ parameters.missing }}\n")
    assert error.line == 2 and "undefined value" in str(error) and "line 2" in str(error)
    error = render_error("a: 1\n\n{% for x in %}\n")
    assert error.line == 3 and "syntax error" in str(error)


def test_yaml_aliases_and_deep_nesting_are_refused():
    bomb = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n'
    with pytest.raises(RenderError, match="aliases"):
        load_documents(bomb)
    with pytest.raises(RenderError, match="nested too deeply"):
        load_documents("[" * 10000 + "]" * 10000)
    with pytest.raises(RenderError, match="larger than"):
        load_documents("a: " + "x" * (2 * 1024 * 1024))


def test_yaml_errors_name_document_and_line():
    with pytest.raises(RenderError) as info:
        load_documents("a: 1\n---\nb: 2\nc: [unclosed\nd: 3\n")
    assert info.value.document == 2 and info.value.line in (4, 5, 6)


def test_documents_must_be_namespaced_objects(chat_version):
    chat_version.manifests_template = "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n"
    with pytest.raises(RenderError, match="metadata.name missing"):
        render_manifests(chat_version, {}, instance_name="i", namespace="n", labels={})
    chat_version.manifests_template = "apiVersion: v1\nkind: Namespace\nmetadata: {name: '{{ instance.name }}'}\n"
    with pytest.raises(RenderError, match="cluster-scoped"):
        render_manifests(chat_version, {}, instance_name="i", namespace="n", labels={})
    chat_version.manifests_template = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: kube-system}\n"
    with pytest.raises(RenderError, match="leave it out"):
        render_manifests(chat_version, {}, instance_name="i", namespace="n", labels={})
    chat_version.manifests_template = "- just\n- a list\n"
    with pytest.raises(RenderError, match="must be a mapping"):
        render_manifests(chat_version, {}, instance_name="i", namespace="n", labels={})


def test_jinja_looking_values_can_be_emitted():
    assert render('{{ "{{ not a placeholder }}" | tojson }}') == '"{{ not a placeholder }}"'
