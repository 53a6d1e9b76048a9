"""The uploads' storage (dockerable/runtime/media.py): a name is never given twice."""

from django.core.files.base import ContentFile

from dockerable.runtime.media import PREFIX_LENGTH, MediaStorage


def test_the_same_name_saved_again_gets_a_new_name_ending_in_the_files(tmp_path):
    storage = MediaStorage(location=tmp_path)
    names = {storage.save("avatars/me.png", ContentFile(b"x")) for _ in range(20)}
    assert len(names) == 20
    for name in names:
        folder, _, file_name = name.rpartition("/")
        assert folder == "avatars" and file_name.endswith("_me.png") and len(file_name) == PREFIX_LENGTH + 7


def test_a_deleted_name_is_not_given_again(tmp_path):
    storage = MediaStorage(location=tmp_path)
    first = storage.save("report.pdf", ContentFile(b"x"))
    storage.delete(first)
    assert storage.save("report.pdf", ContentFile(b"y")) != first


def test_a_long_name_is_shortened_from_its_end_and_keeps_its_prefix(tmp_path):
    storage = MediaStorage(location=tmp_path)
    names = {storage.save("d/" + "a" * 200 + ".txt", ContentFile(b"x"), max_length=60) for _ in range(5)}
    assert len(names) == 5
    assert all(len(name) <= 60 and name.endswith(".txt") and name[2 + PREFIX_LENGTH] == "_" for name in names)
