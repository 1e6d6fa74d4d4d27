"""Planner pages: open to every signed-in user, GET only, anonymous sent to sign in."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

PAGES = ["capacity:planner", "capacity:seed"]


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_is_sent_to_login(client: Client, name: str) -> None:
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.parametrize("name", PAGES)
def test_every_signed_in_user_sees_it_and_wrong_method_is_405(
    outsider_client: Client, name: str
) -> None:
    # The planner is for everyone who is signed in, not only admins or group members.
    assert outsider_client.get(reverse(name)).status_code == 200
    assert outsider_client.post(reverse(name)).status_code == 405
    assert outsider_client.delete(reverse(name)).status_code == 405


def test_first_visit_shows_a_plan_with_formulas(member_client: Client) -> None:
    page = member_client.get(reverse("capacity:planner")).content.decode()
    assert "2 × layers × kv_heads × head_dim × bytes" in page
    assert "2 × 32 × 8 × 128 × 2" in page  # Mistral-7B in the fast tier by default
    assert "Веса" in page  # Russian is the default language
    assert 'id="planner-chart-data"' in page


CUSTOM_MODEL = (
    '{"num_hidden_layers": 40, "hidden_size": 5120, "num_attention_heads": 40, '
    '"num_key_value_heads": 8, "head_dim": 96, "params_total": 14000000000, '
    '"params_active": 14000000000}'
)


def test_custom_model_and_gpu_through_htmx(member_client: Client) -> None:
    response = member_client.get(
        reverse("capacity:planner"),
        {
            "gpu": "custom",
            "custom_gpu_name": "Lab card",
            "custom_gpu_memory_gb": "64",
            "custom_gpu_bandwidth_gbs": "1500",
            "custom_gpu_bf16_tflops": "400",
            "fast_on": "on",
            "fast_model": "custom",
            "fast_custom": CUSTOM_MODEL,
            "fast_weights": "bf16",
        },
        headers={"HX-Request": "true"},
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in page  # the results part only
    assert "2 × 40 × 8 × 96 × 2" in page and "122,880 B" in page  # head_dim read, not derived
    assert "Lab card" in page
    assert "Тяжёлый уровень" not in page  # the heavy tier was left unticked


def test_bad_custom_json_is_explained_and_kept(member_client: Client) -> None:
    broken = '{"num_hidden_layers": 40,'
    page = member_client.get(
        reverse("capacity:planner"),
        {"fast_on": "on", "fast_model": "custom", "fast_custom": broken, "gpu": "l40s"},
    ).content.decode()
    assert "Некорректный JSON" in page
    assert "{&quot;num_hidden_layers&quot;: 40," in page  # what the user typed is still there


def test_english_planner(member_client: Client) -> None:
    member_client.post(reverse("set_language"), {"language": "en", "next": "/"})
    page = member_client.get(reverse("capacity:planner")).content.decode()
    assert "Capacity planner" in page and "Tokens/s per user" in page
    seed = member_client.get(reverse("capacity:seed")).content.decode()
    assert "misses the target" in seed and "meets the target" in seed


def test_seed_check_page_gives_verdicts(member_client: Client) -> None:
    page = member_client.get(reverse("capacity:seed")).content.decode()
    row = page[page.index('data-model="mixtral-8x7b" data-option="cluster"') :][:3000]
    assert "цель не достигнута" in row and "пропускная способность памяти" in row
    assert "NVIDIA H100 SXM" in row or "NVIDIA H200 SXM" in row  # what would meet it


def test_custom_model_errors_in_russian(member_client: Client) -> None:
    page = member_client.get(
        reverse("capacity:planner"),
        {"fast_on": "on", "fast_model": "custom", "fast_custom": '{"num_hidden_layers": 4}'},
    ).content.decode()
    assert "Нужно поле hidden_size." in page
    page = member_client.get(
        reverse("capacity:planner"),
        {"fast_on": "on", "fast_model": "qwen2.5-7b", "fast_tp": "8", "gpus_per_server": "8"},
    ).content.decode()
    assert "Тензорный параллелизм 8 не делит 28 голов внимания модели." in page
