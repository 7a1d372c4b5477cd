from atende.devtools.fake_llm.standalone import main

main()
